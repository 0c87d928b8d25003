#include "xml_valid.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

/* libxml2 reports through a callback: keep the first message. */
static void keep_error(void *ctx, const char *fmt, ...)
{
    char *buf = ctx;
    if (buf[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, 512, fmt, ap);
    va_end(ap);
    buf[strcspn(buf, "\n")] = 0;
}

static void structured(void *ctx, xmlErrorPtr e)
{
    char *buf = ctx;
    if (!buf[0] && e && e->message)
        snprintf(buf, 512, "line %d: %s", e->line, e->message);
    buf[strcspn(buf, "\n")] = 0;
}

static int validate(xmlDocPtr doc, const char *rng, char *why)
{
    xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewMemParserCtxt(rng, (int)strlen(rng));
    xmlRelaxNGPtr schema = pc ? xmlRelaxNGParse(pc) : NULL;
    xmlRelaxNGValidCtxtPtr vc = schema ? xmlRelaxNGNewValidCtxt(schema) : NULL;
    int r = -1;
    if (vc) {
        xmlRelaxNGSetValidStructuredErrors(vc, structured, why);
        r = xmlRelaxNGValidateDoc(vc, doc) == 0 ? 0 : -1;
    }
    xmlRelaxNGFreeValidCtxt(vc);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pc);
    return r;
}

xmlDocPtr p2v_xml_load(const char *path, const char *rng, const char *what, const char *remedy)
{
    char why[512] = "";
    xmlSetGenericErrorFunc(why, keep_error);
    xmlSetStructuredErrorFunc(why, structured);
    /* No network, no entities from outside: the file is data. */
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int r = doc ? validate(doc, rng, why) : -1;
    xmlSetGenericErrorFunc(NULL, NULL);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (r == 0)
        return doc;
    if (!doc && !why[0])
        snprintf(why, sizeof why, "cannot be read or is not XML");
    p2v_err("%s %s: %s; %s", what, path, why[0] ? why : "does not match the schema", remedy);
    xmlFreeDoc(doc);
    return NULL;
}
