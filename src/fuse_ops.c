/* fuse_ops.c - kernel requests to struct fs calls, results to replies.
 *
 * Nothing here decides anything about the tree: each operation unpacks its
 * request, calls fs.c, and replies.  The low-level API is used because the
 * high-level one in libfuse 3.14 drops directory caching and readdirplus
 * attributes (see docs/design.md). */
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

static void entry_from_stat(struct fuse_entry_param *e, const struct stat *st, double timeout)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = timeout;
	e->entry_timeout = timeout;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Content only changes when we say so; let the kernel drop pages when
	 * size or mtime change (auto_inval_data is on by default). */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
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
	entry_from_stat(&e, &st, a->timeout_s);
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

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *dir;
	int rc = fs_opendir(adapter(req)->fs, ino, &dir);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)dir;
	fi->cache_readdir = 1;
	fi->keep_cache = dir->unchanged;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_free(dir);
}

static void reply_dir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fuse_adapter *a = adapter(req);
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	/* An entry's offset is the index of the entry after it. */
	for (size_t i = off < 0 ? 0 : (size_t)off; i < dir->count; i++) {
		const struct fs_dirent *d = &dir->entries[i];
		size_t n;
		if (!plus) {
			n = fuse_add_direntry(req, buf + used, size - used, d->name, &d->st, (off_t)i + 1);
			if (n > size - used)
				break;
		} else {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			e.attr = d->st;
			n = fuse_add_direntry_plus(req, NULL, 0, d->name, &e, 0);
			if (n > size - used)
				break;
			/* The kernel takes a reference only to entries with a
			 * nonzero ino, and never to "." or "..": count exactly those. */
			bool dot = i < 2;
			if (d->has_attr && !dot && fs_dirent_ref(a->fs, d))
				entry_from_stat(&e, &d->st, a->timeout_s);
			fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e, (off_t)i + 1);
		}
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	reply_dir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	reply_dir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	struct blob *file;
	int rc = fs_open(adapter(req)->fs, ino, &file);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)file;
	fi->keep_cache = 1; /* an inode's content never changes (see inodes.h) */
	if (fuse_reply_open(req, fi) != 0)
		blob_unref(file);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	const struct blob *file = (const struct blob *)(uintptr_t)fi->fh;
	if (off < 0 || (size_t)off >= file->v.len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t n = file->v.len - (size_t)off;
	fuse_reply_buf(req, file->bytes + off, n < size ? n : size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	blob_unref((struct blob *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
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
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
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
