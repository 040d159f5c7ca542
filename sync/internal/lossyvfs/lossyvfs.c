// The lossy VFS: see the package comment in lossyvfs.go.
//
// Locking: one mutex per VFS guards its nodes, their undo logs and every
// handle's crashed flag, and is held across each write, truncate and sync
// of the real file, so that a Crash from another thread happens either
// wholly before or wholly after any of them: a sync that returned is
// durable, a write that returned is in the undo log.

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite3vfs.h"
#include "lossyvfs.h"

#define SECTOR 512

typedef struct Undo Undo;
struct Undo {
  Undo *prev;           // the entry before, older
  sqlite3_int64 off;    // where the bytes were
  int n;                // how many
  int whole;            // a truncation: a crash takes it back whole
  unsigned char old[];  // what they were before the write (zeros past EOF)
};

// A node is one file by name: every handle on the same path shares it, as
// an fsync through any descriptor makes all writes to the file durable.
typedef struct Node Node;
struct Node {
  Node *next;
  char *path;               // NULL for a temporary file, or once deleted
  int refs;                 // open handles
  sqlite3_int64 synced;     // the file's size at its last sync (or first open)
  Undo *undo;               // writes since then, newest first
};

typedef struct LossyFile LossyFile;
typedef struct LossyVfs LossyVfs;

struct LossyFile {
  sqlite3_file base;
  LossyVfs *vfs;
  Node *node;
  LossyFile *next;          // in vfs->files
  int crashed;
  int readonly;             // opened read-only: cannot revert through it
  // the real file follows
};

struct LossyVfs {
  sqlite3_vfs base;
  sqlite3_vfs *real;
  pthread_mutex_t mu;
  Node *nodes;
  LossyFile *files;
  int crashed;              // new opens fail until lossy_recover
  int failWrite;            // xWrite answers this code when non-zero
  int failSync;             // xSync answers this code when non-zero
  long long crashAt;        // crash before this disk operation (stats.ops); 0: never
  unsigned long long crashSeed;
  int crashKeep;
  int crashRC;              // what the last crash's revert returned
  int skipSyncs;            // syncs succeed without reaching the disk; writes are not logged
  struct lossy_stats stats;
};

static sqlite3_file *realFile(LossyFile *f) { return (sqlite3_file *)&f[1]; }

static const sqlite3_io_methods lossyMethods;
static int armed(LossyVfs *v);

// ---- undo log ----

static void freeUndo(Undo *u) {
  while (u) {
    Undo *p = u->prev;
    free(u);
    u = p;
  }
}

static void freeNode(LossyVfs *v, Node *n) {
  Node **pp = &v->nodes;
  while (*pp && *pp != n) pp = &(*pp)->next;
  if (*pp) *pp = n->next;
  freeUndo(n->undo);
  free(n->path);
  free(n);
}

// readOld reads n bytes at off from the real file into buf, zero-filling
// what lies past its end.
static int readOld(sqlite3_file *rf, void *buf, int n, sqlite3_int64 off) {
  int rc = rf->pMethods->xRead(rf, buf, n, off);
  if (rc == SQLITE_IOERR_SHORT_READ) rc = SQLITE_OK;  // xRead zero-fills
  return rc;
}

static int logUndo(Node *node, sqlite3_file *rf, sqlite3_int64 off, int n, int whole) {
  Undo *u = malloc(sizeof(Undo) + (size_t)n);
  if (!u) return SQLITE_NOMEM;
  u->off = off;
  u->n = n;
  u->whole = whole;
  int rc = readOld(rf, u->old, n, off);
  if (rc != SQLITE_OK) {
    free(u);
    return rc;
  }
  u->prev = node->undo;
  node->undo = u;
  return SQLITE_OK;
}

// ---- reverting ----

// A small PRNG (xorshift64*), so that a seed gives the same power cut.
static unsigned long long nextRand(unsigned long long *s) {
  unsigned long long x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 2685821657736338717ULL;
}

typedef struct Target {
  sqlite3_file *rf;  // an open handle, or NULL
  int fd;            // else a descriptor opened for the revert
} Target;

static int targetWrite(Target *t, const void *buf, int n, sqlite3_int64 off) {
  if (t->rf) return t->rf->pMethods->xWrite(t->rf, buf, n, off);
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = pwrite(t->fd, p, (size_t)n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return SQLITE_IOERR_WRITE;
    }
    p += w;
    n -= (int)w;
    off += w;
  }
  return SQLITE_OK;
}

static int targetTruncate(Target *t, sqlite3_int64 size) {
  if (t->rf) return t->rf->pMethods->xTruncate(t->rf, size);
  return ftruncate(t->fd, (off_t)size) == 0 ? SQLITE_OK : SQLITE_IOERR_TRUNCATE;
}

// revert undoes the node's writes since its last sync, newest first. With
// keepPct 0 every one is undone; otherwise each sector of each write
// survives with that probability, as on a disk that wrote some of its cache
// in any order before the power went. Reverted sectors get back what they
// held before (zeros past the synced end), and the file ends at its synced
// size, or further if a kept sector lies beyond it.
static int revert(Node *n, Target *t, unsigned long long *rnd, int keepPct) {
  sqlite3_int64 end = n->synced;
  int rc = SQLITE_OK;
  for (Undo *u = n->undo; u; u = u->prev) {
    if (u->n == 0) continue;
    // A truncation is metadata, not sectors: it is always taken back.
    if (keepPct == 0 || u->whole) {
      int r = targetWrite(t, u->old, u->n, u->off);
      if (r != SQLITE_OK) rc = r;
      continue;
    }
    for (int i = 0; i < u->n;) {
      sqlite3_int64 at = u->off + i;
      int len = SECTOR - (int)(at % SECTOR);
      if (len > u->n - i) len = u->n - i;
      if ((int)(nextRand(rnd) % 100) < keepPct) {
        if (at + len > end) end = at + len;
      } else {
        int r = targetWrite(t, u->old + i, len, at);
        if (r != SQLITE_OK) rc = r;
      }
      i += len;
    }
  }
  int r = targetTruncate(t, end);
  if (r != SQLITE_OK) rc = r;
  freeUndo(n->undo);
  n->undo = NULL;
  n->synced = end;
  return rc;
}

// ---- file methods ----

static int lClose(sqlite3_file *pf) {
  LossyFile *f = (LossyFile *)pf;
  LossyVfs *v = f->vfs;
  pthread_mutex_lock(&v->mu);
  LossyFile **pp = &v->files;
  while (*pp && *pp != f) pp = &(*pp)->next;
  if (*pp) *pp = f->next;
  Node *n = f->node;
  // A file closed with unsynced writes keeps its node, so a later crash
  // still reverts them through a descriptor of its own.
  if (--n->refs == 0 && (n->undo == NULL || n->path == NULL)) freeNode(v, n);
  pthread_mutex_unlock(&v->mu);
  sqlite3_file *rf = realFile(f);
  int rc = rf->pMethods->xClose(rf);
  return f->crashed ? SQLITE_OK : rc;
}

static int lRead(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_READ;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xRead(rf, buf, amt, off);
}

static int lWrite(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off) {
  LossyFile *f = (LossyFile *)pf;
  LossyVfs *v = f->vfs;
  sqlite3_file *rf = realFile(f);
  pthread_mutex_lock(&v->mu);
  int rc;
  if (f->crashed || armed(v)) {
    rc = SQLITE_IOERR_WRITE;
  } else if (v->failWrite) {
    rc = v->failWrite;
    v->stats.failed_writes++;
  } else {
    rc = v->skipSyncs ? SQLITE_OK : logUndo(f->node, rf, off, amt, 0);
    if (rc == SQLITE_OK) rc = rf->pMethods->xWrite(rf, buf, amt, off);
    if (rc == SQLITE_OK) v->stats.writes++;
  }
  pthread_mutex_unlock(&v->mu);
  return rc;
}

static int lTruncate(sqlite3_file *pf, sqlite3_int64 size) {
  LossyFile *f = (LossyFile *)pf;
  LossyVfs *v = f->vfs;
  sqlite3_file *rf = realFile(f);
  pthread_mutex_lock(&v->mu);
  int rc = SQLITE_OK;
  if (f->crashed || armed(v)) {
    rc = SQLITE_IOERR_TRUNCATE;
  } else {
    Node *n = f->node;
    // Keep what the truncation cuts off below the synced size.
    if (size < n->synced) rc = logUndo(n, rf, size, (int)(n->synced - size), 1);
    if (rc == SQLITE_OK) rc = rf->pMethods->xTruncate(rf, size);
  }
  pthread_mutex_unlock(&v->mu);
  return rc;
}

static int lSync(sqlite3_file *pf, int flags) {
  LossyFile *f = (LossyFile *)pf;
  LossyVfs *v = f->vfs;
  sqlite3_file *rf = realFile(f);
  pthread_mutex_lock(&v->mu);
  int rc;
  if (f->crashed || armed(v)) {
    rc = SQLITE_IOERR_FSYNC;
  } else if (v->failSync) {
    rc = v->failSync;
    v->stats.failed_syncs++;
  } else {
    rc = v->skipSyncs ? SQLITE_OK : rf->pMethods->xSync(rf, flags);
    sqlite3_int64 size = 0;
    if (rc == SQLITE_OK) rc = rf->pMethods->xFileSize(rf, &size);
    if (rc == SQLITE_OK) {
      freeUndo(f->node->undo);
      f->node->undo = NULL;
      f->node->synced = size;
      v->stats.syncs++;
    }
  }
  pthread_mutex_unlock(&v->mu);
  return rc;
}

static int lFileSize(sqlite3_file *pf, sqlite3_int64 *size) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_FSTAT;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xFileSize(rf, size);
}

static int lLock(sqlite3_file *pf, int lock) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_LOCK;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xLock(rf, lock);
}

// Unlocking always goes through: locks are not on the disk, and a crashed
// handle must not keep the file locked for the connection that reopens it.
static int lUnlock(sqlite3_file *pf, int lock) {
  sqlite3_file *rf = realFile((LossyFile *)pf);
  return rf->pMethods->xUnlock(rf, lock);
}

static int lCheckReservedLock(sqlite3_file *pf, int *out) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_LOCK;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xCheckReservedLock(rf, out);
}

// File controls pass through. The one that writes, SQLITE_FCNTL_SIZE_HINT,
// only grows the file with zeros, which a crash takes back by truncating to
// the synced size.
static int lFileControl(sqlite3_file *pf, int op, void *arg) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xFileControl(rf, op, arg);
}

static int lSectorSize(sqlite3_file *pf) {
  sqlite3_file *rf = realFile((LossyFile *)pf);
  return rf->pMethods->xSectorSize(rf);
}

static int lDeviceCharacteristics(sqlite3_file *pf) {
  sqlite3_file *rf = realFile((LossyFile *)pf);
  int c = rf->pMethods->xDeviceCharacteristics(rf);
  return c & ~(SQLITE_IOCAP_ATOMIC_ANY | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL |
               SQLITE_IOCAP_BATCH_ATOMIC);
}

// The wal-index (-shm) is shared memory, rebuilt from the WAL by the first
// connection to open the database after a crash: it passes through.
static int lShmMap(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_SHMMAP;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xShmMap(rf, pg, pgsz, extend, pp);
}

static int lShmLock(sqlite3_file *pf, int off, int n, int flags) {
  LossyFile *f = (LossyFile *)pf;
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE) && !(flags & SQLITE_SHM_UNLOCK)) return SQLITE_IOERR_SHMLOCK;
  sqlite3_file *rf = realFile(f);
  return rf->pMethods->xShmLock(rf, off, n, flags);
}

static void lShmBarrier(sqlite3_file *pf) {
  sqlite3_file *rf = realFile((LossyFile *)pf);
  rf->pMethods->xShmBarrier(rf);
}

static int lShmUnmap(sqlite3_file *pf, int deleteFlag) {
  LossyFile *f = (LossyFile *)pf;
  sqlite3_file *rf = realFile(f);
  if (__atomic_load_n(&f->crashed, __ATOMIC_ACQUIRE)) deleteFlag = 0;
  return rf->pMethods->xShmUnmap(rf, deleteFlag);
}

// Version 2: no xFetch, so SQLite never reads through a memory map that
// would bypass the crashed state.
static const sqlite3_io_methods lossyMethods = {
    2,
    lClose,
    lRead,
    lWrite,
    lTruncate,
    lSync,
    lFileSize,
    lLock,
    lUnlock,
    lCheckReservedLock,
    lFileControl,
    lSectorSize,
    lDeviceCharacteristics,
    lShmMap,
    lShmLock,
    lShmBarrier,
    lShmUnmap,
    NULL,
    NULL,
};

// ---- VFS methods ----

static LossyVfs *vfsOf(sqlite3_vfs *p) { return (LossyVfs *)p; }

static int vOpen(sqlite3_vfs *pv, sqlite3_filename name, sqlite3_file *pf, int flags, int *outFlags) {
  LossyVfs *v = vfsOf(pv);
  LossyFile *f = (LossyFile *)pf;
  sqlite3_file *rf = realFile(f);
  memset(f, 0, sizeof(*f));
  if (__atomic_load_n(&v->crashed, __ATOMIC_ACQUIRE)) return SQLITE_CANTOPEN;
  int out = 0;
  int rc = v->real->xOpen(v->real, name, rf, flags, &out);
  if (outFlags) *outFlags = out;
  if (rc != SQLITE_OK) {
    if (rf->pMethods) rf->pMethods->xClose(rf);
    return rc;
  }
  if (!rf->pMethods || rf->pMethods->iVersion < 2) {
    if (rf->pMethods) rf->pMethods->xClose(rf);
    return SQLITE_CANTOPEN;
  }
  pthread_mutex_lock(&v->mu);
  Node *n = NULL;
  if (name) {
    for (n = v->nodes; n; n = n->next)
      if (n->path && strcmp(n->path, name) == 0) break;
  }
  if (!n) {
    n = calloc(1, sizeof(Node));
    if (n && name) n->path = strdup(name);
    if (!n || (name && !n->path) || rf->pMethods->xFileSize(rf, &n->synced) != SQLITE_OK) {
      if (n) free(n->path);
      free(n);
      pthread_mutex_unlock(&v->mu);
      rf->pMethods->xClose(rf);
      return SQLITE_NOMEM;
    }
    n->next = v->nodes;
    v->nodes = n;
  }
  n->refs++;
  f->readonly = (out & SQLITE_OPEN_READONLY) != 0;
  f->vfs = v;
  f->node = n;
  f->next = v->files;
  v->files = f;
  f->base.pMethods = &lossyMethods;
  v->stats.opens++;
  pthread_mutex_unlock(&v->mu);
  return SQLITE_OK;
}

// Deleting a file is taken as durable at once (the simulation covers file
// contents and sizes, not directory entries): its undo log goes with it.
static int vDelete(sqlite3_vfs *pv, const char *name, int syncDir) {
  LossyVfs *v = vfsOf(pv);
  if (__atomic_load_n(&v->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_DELETE;
  pthread_mutex_lock(&v->mu);
  int rc = v->real->xDelete(v->real, name, syncDir);
  for (Node *n = v->nodes; n; n = n->next) {
    if (n->path && strcmp(n->path, name) == 0) {
      free(n->path);
      n->path = NULL;
      freeUndo(n->undo);
      n->undo = NULL;
      if (n->refs == 0) freeNode(v, n);
      break;
    }
  }
  pthread_mutex_unlock(&v->mu);
  return rc;
}

static int vAccess(sqlite3_vfs *pv, const char *name, int flags, int *out) {
  LossyVfs *v = vfsOf(pv);
  if (__atomic_load_n(&v->crashed, __ATOMIC_ACQUIRE)) return SQLITE_IOERR_ACCESS;
  return v->real->xAccess(v->real, name, flags, out);
}

static int vFullPathname(sqlite3_vfs *pv, const char *name, int nOut, char *out) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xFullPathname(v->real, name, nOut, out);
}

static void *vDlOpen(sqlite3_vfs *pv, const char *name) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xDlOpen(v->real, name);
}

static void vDlError(sqlite3_vfs *pv, int n, char *msg) {
  LossyVfs *v = vfsOf(pv);
  v->real->xDlError(v->real, n, msg);
}

static void (*vDlSym(sqlite3_vfs *pv, void *h, const char *sym))(void) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xDlSym(v->real, h, sym);
}

static void vDlClose(sqlite3_vfs *pv, void *h) {
  LossyVfs *v = vfsOf(pv);
  v->real->xDlClose(v->real, h);
}

static int vRandomness(sqlite3_vfs *pv, int n, char *out) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xRandomness(v->real, n, out);
}

static int vSleep(sqlite3_vfs *pv, int us) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xSleep(v->real, us);
}

static int vCurrentTime(sqlite3_vfs *pv, double *t) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xCurrentTime(v->real, t);
}

static int vGetLastError(sqlite3_vfs *pv, int n, char *msg) {
  LossyVfs *v = vfsOf(pv);
  return v->real->xGetLastError(v->real, n, msg);
}

static int vCurrentTimeInt64(sqlite3_vfs *pv, sqlite3_int64 *t) {
  LossyVfs *v = vfsOf(pv);
  if (v->real->iVersion >= 2 && v->real->xCurrentTimeInt64) return v->real->xCurrentTimeInt64(v->real, t);
  double d;
  int rc = v->real->xCurrentTime(v->real, &d);
  *t = (sqlite3_int64)(d * 86400000.0);
  return rc;
}

// ---- the C interface to Go ----

int lossy_register(const char *name, lossy_vfs **out) {
  if (!sqlite3_vfs_find || !sqlite3_vfs_register) return -1;  // no SQLite linked
  if (sqlite3_vfs_find(name)) return -2;                       // name taken
  sqlite3_vfs *real = sqlite3_vfs_find(0);
  if (!real) return -3;
  LossyVfs *v = calloc(1, sizeof(LossyVfs));
  if (!v) return SQLITE_NOMEM;
  v->base.zName = strdup(name);
  if (!v->base.zName) {
    free(v);
    return SQLITE_NOMEM;
  }
  pthread_mutex_init(&v->mu, NULL);
  v->real = real;
  v->base.iVersion = 2;
  v->base.szOsFile = (int)sizeof(LossyFile) + real->szOsFile;
  v->base.mxPathname = real->mxPathname;
  v->base.xOpen = vOpen;
  v->base.xDelete = vDelete;
  v->base.xAccess = vAccess;
  v->base.xFullPathname = vFullPathname;
  v->base.xDlOpen = vDlOpen;
  v->base.xDlError = vDlError;
  v->base.xDlSym = vDlSym;
  v->base.xDlClose = vDlClose;
  v->base.xRandomness = vRandomness;
  v->base.xSleep = vSleep;
  v->base.xCurrentTime = vCurrentTime;
  v->base.xGetLastError = vGetLastError;
  v->base.xCurrentTimeInt64 = vCurrentTimeInt64;
  int rc = sqlite3_vfs_register(&v->base, 0);
  if (rc != SQLITE_OK) {
    free((void *)v->base.zName);
    free(v);
    return rc;
  }
  *out = (lossy_vfs *)v;
  return SQLITE_OK;
}

// crashLocked cuts the power; v->mu is held.
static int crashLocked(LossyVfs *v, unsigned long long seed, int keepPct) {
  unsigned long long rnd = seed | 1;
  int rc = SQLITE_OK;
  v->crashAt = 0;
  __atomic_store_n(&v->crashed, 1, __ATOMIC_RELEASE);
  for (LossyFile *f = v->files; f; f = f->next) __atomic_store_n(&f->crashed, 1, __ATOMIC_RELEASE);
  for (Node *n = v->nodes, *next; n; n = next) {
    next = n->next;
    Target t = {NULL, -1};
    for (LossyFile *f = v->files; f; f = f->next)
      if (f->node == n && !f->readonly) {
        t.rf = realFile(f);
        break;
      }
    if (!t.rf && (n->undo || n->refs > 0) && n->path) {
      t.fd = open(n->path, O_RDWR | O_CLOEXEC);
      if (t.fd < 0) rc = SQLITE_IOERR;
    }
    if (t.rf || t.fd >= 0) {
      if (n->undo) v->stats.reverted_files++;
      int r = revert(n, &t, &rnd, keepPct);
      if (r != SQLITE_OK) rc = r;
    }
    if (t.fd >= 0) close(t.fd);
    if (n->refs == 0) freeNode(v, n);
  }
  v->stats.crashes++;
  v->crashRC = rc;
  return rc;
}

// armed counts an operation that changes the disk (write, truncate, sync)
// and cuts the power before it when it is the one lossy_crash_at named.
// v->mu is held.
static int armed(LossyVfs *v) {
  v->stats.ops++;
  if (v->crashAt > 0 && v->stats.ops >= v->crashAt) {
    crashLocked(v, v->crashSeed, v->crashKeep);
    return 1;
  }
  return 0;
}

int lossy_crash(lossy_vfs *pv, unsigned long long seed, int keepPct) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  int rc = crashLocked(v, seed, keepPct);
  pthread_mutex_unlock(&v->mu);
  return rc;
}

void lossy_crash_at(lossy_vfs *pv, long long op, unsigned long long seed, int keepPct) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  v->crashAt = op;
  v->crashSeed = seed;
  v->crashKeep = keepPct;
  pthread_mutex_unlock(&v->mu);
}

int lossy_make_default(lossy_vfs *pv, int on) {
  LossyVfs *v = (LossyVfs *)pv;
  return sqlite3_vfs_register(on ? &v->base : v->real, 1);
}

void lossy_skip_syncs(lossy_vfs *pv, int on) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  v->skipSyncs = on;
  pthread_mutex_unlock(&v->mu);
}

void lossy_recover(lossy_vfs *pv) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  __atomic_store_n(&v->crashed, 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&v->mu);
}

void lossy_fail(lossy_vfs *pv, int writeCode, int syncCode) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  v->failWrite = writeCode;
  v->failSync = syncCode;
  pthread_mutex_unlock(&v->mu);
}

void lossy_stats(lossy_vfs *pv, struct lossy_stats *out) {
  LossyVfs *v = (LossyVfs *)pv;
  pthread_mutex_lock(&v->mu);
  *out = v->stats;
  int open = 0, dirty = 0;
  for (LossyFile *f = v->files; f; f = f->next) open++;
  for (Node *n = v->nodes; n; n = n->next)
    if (n->undo) dirty++;
  out->open_files = open;
  out->unsynced_files = dirty;
  out->fail_write = v->failWrite;
  out->fail_sync = v->failSync;
  out->crash_rc = v->crashRC;
  pthread_mutex_unlock(&v->mu);
}
