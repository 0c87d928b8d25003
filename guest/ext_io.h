/* ext2/3/4 volumes of a layer, opened read-only with libext2fs through an
 * io_manager of p2v's own (libext2fs only ever sees a name), and files
 * read from them for inspection. */
#ifndef P2V_EXT_IO_H
#define P2V_EXT_IO_H

#include "core/layer.h"

#include <ext2fs/ext2fs.h>
#include <stddef.h>

/* Opens the filesystem at [start, start+size) of l.  A libext2fs error
 * code (error_message() describes it). */
errcode_t p2v_ext_open(struct p2v_layer *l, uint64_t start, uint64_t size, ext2_filsys *out);
void p2v_ext_close(ext2_filsys *fs);

/* A regular file's contents, symbolic links followed (relative to the
 * filesystem's root, as the guest sees them).  At most max bytes; *data
 * is malloc'd and NUL-terminated.  0, -ENOENT, -EFBIG or -EIO. */
int p2v_ext_read_file(ext2_filsys fs, const char *path, size_t max, char **data, size_t *len);
/* The names in a directory, "." and ".." left out; p2v_strv_free. */
int p2v_ext_list_dir(ext2_filsys fs, const char *path, char ***names, size_t *n);

#endif
