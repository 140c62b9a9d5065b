/* fuse_ops.c - kernel requests to struct fs calls, results to replies.
 *
 * Nothing here decides anything about the tree: each operation unpacks its
 * request, calls fs.c, and replies.  The low-level API is used because the
 * high-level one in libfuse 3.14 drops directory caching and readdirplus
 * attributes (see docs/design.md).
 *
 * Files and directories need no open handle: an inode's bytes never change
 * and directory cookies survive refreshes.  So open and opendir answer
 * ENOSYS where the kernel supports that, and the kernel stops sending them
 * (and release) at all, keeping file pages and listings cached between
 * opens: a warm tree walk then costs no round trip to this daemon. */
#include "fuse_ops.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct fuse_adapter *adapter(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void entry_from_stat(struct fuse_entry_param *e, const struct stat *st, double timeout,
			    uint32_t generation)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->generation = generation;
	e->attr = *st;
	e->attr_timeout = timeout;
	e->entry_timeout = timeout;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fuse_adapter *a = userdata;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* File handles (NFS, open_by_handle_at) that outlive the kernel's
	 * memory: it asks "." and ".." of a number (fs_lookup). */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* Not FUSE_CAP_POSIX_ACL: it would let the kernel remember that files
	 * have no ACL (saving ls -l two getxattr round trips per entry), but
	 * measured, it made every open several times slower (see
	 * docs/performance.md). */
	a->no_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	a->no_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_adapter *a = adapter(req);
	struct stat st;
	int rc = fs_lookup(a->fs, parent, name, &st);
	struct fuse_entry_param e;
	if (rc == ENOENT) {
		/* A negative entry: the kernel answers the next probe itself. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = a->negative_timeout_s;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	entry_from_stat(&e, &st, a->timeout_s, fs_generation(a->fs, st.st_ino));
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget(a->fs, st.st_ino, 1); /* the kernel never got it */
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(adapter(req)->fs, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fuse_adapter *a = adapter(req);
	for (size_t i = 0; i < count; i++)
		fs_forget(a->fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct fuse_adapter *a = adapter(req);
	struct stat st;
	int rc = fs_getattr(a->fs, ino, &st);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, a->timeout_s);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[128];
	int rc = fs_readlink(adapter(req)->fs, ino, target, sizeof(target));
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_readlink(req, target);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (adapter(req)->no_opendir) {
		fuse_reply_err(req, ENOSYS); /* never asked again */
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 1;
	fi->keep_cache = 1; /* the kernel checks the directory's mtime itself */
	fuse_reply_open(req, fi);
}

struct dir_buffer {
	fuse_req_t req;
	struct fs *fs;
	double timeout_s;
	bool plus;
	char *buf;
	size_t size;
	size_t used;
};

static bool fill_dir_buffer(void *ctx, const struct fs_dirent *d, off_t next)
{
	struct dir_buffer *db = ctx;
	char *at = db->buf + db->used;
	size_t room = db->size - db->used, n;
	if (!db->plus) {
		n = fuse_add_direntry(db->req, at, room, d->name, &d->st, next);
		if (n > room)
			return false;
	} else {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.attr = d->st;
		n = fuse_add_direntry_plus(db->req, NULL, 0, d->name, &e, next);
		if (n > room)
			return false;
		/* The kernel takes a reference only to entries with a nonzero
		 * ino, and never to "." or "..": count exactly those. */
		bool dot = strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0;
		if (d->has_attr && !dot && fs_dirent_ref(db->fs, d))
			entry_from_stat(&e, &d->st, db->timeout_s,
					inodes_generation(&d->key, d->has_content ? &d->content : NULL));
		fuse_add_direntry_plus(db->req, at, room, d->name, &e, next);
	}
	db->used += n;
	return true;
}

static void reply_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fuse_adapter *a = adapter(req);
	struct dir_buffer db = { req, a->fs, a->timeout_s, plus, malloc(size), size, 0 };
	if (!db.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = fs_readdir(a->fs, ino, off, fill_dir_buffer, &db);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_buf(req, db.buf, db.used);
	free(db.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	reply_dir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	reply_dir(req, ino, size, off, true);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (adapter(req)->no_open) {
		fuse_reply_err(req, ENOSYS); /* never asked again */
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1; /* an inode's content never changes (see inodes.h) */
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	struct blob *file;
	int rc = fs_read(adapter(req)->fs, ino, &file);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	if (off < 0 || (size_t)off >= file->v.len) {
		fuse_reply_buf(req, NULL, 0);
	} else if (!file->file) {
		size_t n = file->v.len - (size_t)off;
		fuse_reply_buf(req, file->bytes + off, n < size ? n : size);
	} else {
		/* A blob kept in a file (a busy month): read what is asked. */
		char *buf = malloc(size ? size : 1);
		ssize_t n = buf ? blob_read(file, buf, size, (uint64_t)off) : -1;
		if (n < 0) {
			log_error("read: a month kept in a file could not be read: %s (%s)",
				  strerror(buf ? errno : ENOMEM), strerror(EIO));
			fuse_reply_err(req, EIO);
		} else {
			fuse_reply_buf(req, buf, (size_t)n);
		}
		free(buf);
	}
	blob_unref(file);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	/* ls -l asks every entry for ACLs and a security label: answer those
	 * without building the attributes. */
	if (strcmp(name, FS_XATTR_SOURCE) != 0 && strcmp(name, FS_XATTR_FETCHED) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	char source[128], fetched[32];
	int rc = fs_xattrs(adapter(req)->fs, ino, source, fetched);
	const char *value = strcmp(name, FS_XATTR_SOURCE) == 0 ? source
			    : fetched[0] ? fetched : NULL;
	if (rc || !value) {
		fuse_reply_err(req, rc && rc != ENODATA ? rc : ENODATA);
		return;
	}
	size_t len = strlen(value);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char source[128], fetched[32], list[64];
	size_t len = 0;
	int rc = fs_xattrs(adapter(req)->fs, ino, source, fetched);
	if (rc && rc != ENODATA) {
		fuse_reply_err(req, rc);
		return;
	}
	/* Only what changes with the content is listed: backup tools store
	 * every listed attribute, and a fetch time moves on every refresh.
	 * user.sepayfs.fetched still answers when asked by name. */
	if (rc == 0) {
		memcpy(list, FS_XATTR_SOURCE, sizeof(FS_XATTR_SOURCE));
		len = sizeof(FS_XATTR_SOURCE);
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, len);
}

/* Everything that would write.  The mount is also made read-only (-o ro),
 * so the kernel normally answers these itself; these cover a remount. */
static void erofs(fuse_req_t req) { fuse_reply_err(req, EROFS); }
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{ (void)ino; (void)attr; (void)to_set; (void)fi; erofs(req); }
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t d)
{ (void)p; (void)n; (void)m; (void)d; erofs(req); }
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{ (void)p; (void)n; (void)m; erofs(req); }
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{ (void)p; (void)n; erofs(req); }
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n)
{ (void)l; (void)p; (void)n; erofs(req); }
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
		      const char *nn, unsigned int f)
{ (void)p; (void)n; (void)np; (void)nn; (void)f; erofs(req); }
static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn)
{ (void)i; (void)np; (void)nn; erofs(req); }
static void op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
		     struct fuse_file_info *fi)
{ (void)i; (void)b; (void)s; (void)o; (void)fi; erofs(req); }
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		      struct fuse_file_info *fi)
{ (void)p; (void)n; (void)m; (void)fi; erofs(req); }
static void op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s,
			int f)
{ (void)i; (void)n; (void)v; (void)s; (void)f; erofs(req); }
static void op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n)
{ (void)i; (void)n; erofs(req); }

const struct fuse_lowlevel_ops sepayfs_ll_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.open = op_open,
	.read = op_read,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.write = op_write,
	.create = op_create,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};
