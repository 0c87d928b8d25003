/* The batch manifest: validated against manifest.rng, then read. */
#include "batch.h"

#include "core/xml_valid.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

/* A value into a field; -1 when it does not fit. */
static int field(char *out, size_t len, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) + 1 : 0;
    if (la + lb >= len)
        return -1;
    memcpy(out, a, la);
    if (b) {
        out[la] = '/';
        memcpy(out + la + 1, b, lb - 1);
    }
    out[la + lb] = 0;
    return 0;
}

/* A path without "//", "/./", "/../" or a trailing '/', so two spellings
 * of one directory compare equal (it may not exist yet: no realpath). */
static void normalize(char *p)
{
    char *out = p, *in = p;
    while (*in) {
        if (in[0] == '/' && in[1] == '/') {
            in++;
        } else if (in[0] == '/' && in[1] == 0 && out > p) {
            in++;
        } else if (in[0] == '/' && in[1] == '.' && (in[2] == '/' || in[2] == 0)) {
            in += 2;
        } else if (in[0] == '/' && in[1] == '.' && in[2] == '.' && (in[3] == '/' || in[3] == 0)) {
            in += 3;
            while (out > p && *--out != '/')
                ;
        } else {
            *out++ = *in++;
        }
    }
    if (out == p)
        *out++ = '/';
    *out = 0;
}

/* A path from the manifest, relative to the manifest's directory. */
static int resolve(const char *dir, const char *p, char *out, size_t len)
{
    int r = p[0] == '/' || !dir[0] ? field(out, len, p, NULL) : field(out, len, dir, p);
    if (r == 0)
        normalize(out);
    return r;
}

static int text(xmlNodePtr n, char *out, size_t len)
{
    xmlChar *v = xmlNodeGetContent(n);
    int r = field(out, len, v ? (const char *)v : "", NULL);
    xmlFree(v);
    return r;
}

/* Tokens to the schema: blanks around them do not count. */
static void trim(char *val)
{
    size_t lead = strspn(val, " \t\r\n"), end = strlen(val);
    while (end > lead && strchr(" \t\r\n", val[end - 1]))
        end--;
    memmove(val, val + lead, end - lead);
    val[end - lead] = 0;
}

/* One element of a <job> into its field; -1 when its value does not fit. */
static int job_element(xmlNodePtr e, const char *dir, struct p2v_job *job)
{
    char val[PATH_MAX];
    const char *el = (const char *)e->name;
    if (text(e, val, sizeof val) < 0)
        return -1;
    if (!strcmp(el, "source"))
        return resolve(dir, val, job->source, sizeof job->source);
    if (!strcmp(el, "destination"))
        return resolve(dir, val, job->dest, sizeof job->dest);
    if (!strcmp(el, "plan"))
        return resolve(dir, val, job->plan, sizeof job->plan);
    if (!strcmp(el, "config"))
        return resolve(dir, val, job->config, sizeof job->config);
    if (!strcmp(el, "sparse")) {
        job->sparse = 1;
        return 0;
    }
    if (!strcmp(el, "no-check")) {
        job->no_check = 1;
        return 0;
    }
    trim(val);  /* the rest are tokens */
    if (!strcmp(el, "type"))
        return field(job->type, sizeof job->type, val, NULL);
    if (!strcmp(el, "format"))
        return field(job->format, sizeof job->format, val, NULL);
    if (!strcmp(el, "volumes"))
        return field(job->volumes, sizeof job->volumes, val, NULL);
    if (!strcmp(el, "target"))
        return field(job->target, sizeof job->target, val, NULL);
    return 0;
}

/* One <job>: its name, the defaults, then what its elements say. */
static int read_job(xmlNodePtr j, const char *dir, const char *path, struct p2v_job *job)
{
    xmlChar *name = xmlGetProp(j, (const xmlChar *)"name");
    snprintf(job->name, sizeof job->name, "%s", name ? (const char *)name : "");
    xmlFree(name);
    snprintf(job->type, sizeof job->type, "dynamic");
    snprintf(job->format, sizeof job->format, "auto");
    snprintf(job->target, sizeof job->target, "virtio");
    for (xmlNodePtr e = j->children; e; e = e->next) {
        if (e->type == XML_ELEMENT_NODE && job_element(e, dir, job) < 0) {
            p2v_err("batch manifest %s: job '%s': <%s> is too long", path, job->name,
                    (const char *)e->name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Two jobs writing one place would spoil each other's work: job k against
 * those before it. */
static int check_apart(const struct p2v_job *v, int k, const char *path)
{
    const struct p2v_job *job = &v[k];
    for (int i = 0; i < k; i++)
        if (!strcmp(v[i].name, job->name) || !strcmp(v[i].dest, job->dest)) {
            p2v_err("batch manifest %s: jobs '%s' and '%s' share a %s; give each job its "
                    "own name and destination", path, v[i].name, job->name,
                    !strcmp(v[i].name, job->name) ? "name" : "destination");
            return -EINVAL;
        }
    return 0;
}

/* Every <job> under root; *jobs is malloc'd.  Only the first problem is
 * told. */
static int read_jobs(xmlNodePtr root, const char *dir, const char *path, struct p2v_job **jobs,
                     int *n)
{
    int count = 0;
    for (xmlNodePtr j = root->children; j; j = j->next)
        count += j->type == XML_ELEMENT_NODE;
    struct p2v_job *v = calloc((size_t)count, sizeof *v);
    if (!v)
        return -ENOMEM;
    int k = 0, r = 0;
    for (xmlNodePtr j = root->children; j && r == 0; j = j->next) {
        if (j->type != XML_ELEMENT_NODE)
            continue;
        r = read_job(j, dir, path, &v[k]);
        if (r == 0)
            r = check_apart(v, k, path);
        k++;
    }
    if (r < 0) {
        free(v);
        return r;
    }
    *jobs = v;
    *n = k;
    return 0;
}

/* The manifest's directory, absolute: relative paths in it are its, made
 * absolute so the summaries and logs say where everything is. */
static int manifest_dir(const char *path, char dir[PATH_MAX])
{
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s", path);
    char *slash = strrchr(where, '/');
    if (slash)
        *slash = 0;
    if (!realpath(slash ? (where[0] ? where : "/") : ".", dir)) {
        int e = errno;
        p2v_err("batch manifest %s: its directory: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

int p2v_manifest_load(const char *path, struct p2v_job **jobs, int *n)
{
    xmlDocPtr doc = p2v_xml_load(path, p2v_manifest_rng, "batch manifest",
                                 "see the manifest format in README.md (p2v batch --schema "
                                 "prints its schema)");
    if (!doc)
        return -EINVAL;
    char dir[PATH_MAX];
    int r = manifest_dir(path, dir);
    if (r == 0)
        r = read_jobs(xmlDocGetRootElement(doc), dir, path, jobs, n);
    xmlFreeDoc(doc);
    return r;
}
