/* XML files p2v reads (machine configurations, batch manifests): parsed
 * with libxml2, without network or external entities, and validated
 * against a built-in RELAX NG schema before anything is taken from them. */
#ifndef P2V_XML_VALID_H
#define P2V_XML_VALID_H

#include <libxml/tree.h>

/* The document, or NULL after a message "WHAT PATH: line N: reason;
 * REMEDY". */
xmlDocPtr p2v_xml_load(const char *path, const char *rng, const char *what, const char *remedy);

#endif
