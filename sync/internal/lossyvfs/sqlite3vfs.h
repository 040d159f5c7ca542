/*
** The few declarations of SQLite's public C interface (sqlite3.h, which is
** in the public domain) that the lossy VFS needs: the VFS and file objects,
** and the constants it answers with. They are copied, not included, because
** mattn/go-sqlite3 keeps its copy of the header inside its own package and
** the build must not depend on a system libsqlite3-dev. The layouts are
** SQLite's stable ABI: they only ever grow at the end, behind iVersion.
**
** The two functions are defined by the SQLite amalgamation that
** mattn/go-sqlite3 compiles into the program; they are declared weak so
** that cgo's link of this package alone (to find its dynamic imports) does
** not need them, and the program's final link resolves them to that one
** SQLite.
*/
#ifndef LOSSYVFS_SQLITE3VFS_H
#define LOSSYVFS_SQLITE3VFS_H

typedef long long int sqlite3_int64;
typedef const char *sqlite3_filename;

typedef struct sqlite3_file sqlite3_file;
struct sqlite3_file {
  const struct sqlite3_io_methods *pMethods;
};

typedef struct sqlite3_io_methods sqlite3_io_methods;
struct sqlite3_io_methods {
  int iVersion;
  int (*xClose)(sqlite3_file*);
  int (*xRead)(sqlite3_file*, void*, int iAmt, sqlite3_int64 iOfst);
  int (*xWrite)(sqlite3_file*, const void*, int iAmt, sqlite3_int64 iOfst);
  int (*xTruncate)(sqlite3_file*, sqlite3_int64 size);
  int (*xSync)(sqlite3_file*, int flags);
  int (*xFileSize)(sqlite3_file*, sqlite3_int64 *pSize);
  int (*xLock)(sqlite3_file*, int);
  int (*xUnlock)(sqlite3_file*, int);
  int (*xCheckReservedLock)(sqlite3_file*, int *pResOut);
  int (*xFileControl)(sqlite3_file*, int op, void *pArg);
  int (*xSectorSize)(sqlite3_file*);
  int (*xDeviceCharacteristics)(sqlite3_file*);
  int (*xShmMap)(sqlite3_file*, int iPg, int pgsz, int, void volatile**);
  int (*xShmLock)(sqlite3_file*, int offset, int n, int flags);
  void (*xShmBarrier)(sqlite3_file*);
  int (*xShmUnmap)(sqlite3_file*, int deleteFlag);
  int (*xFetch)(sqlite3_file*, sqlite3_int64 iOfst, int iAmt, void **pp);
  int (*xUnfetch)(sqlite3_file*, sqlite3_int64 iOfst, void *p);
};

typedef struct sqlite3_vfs sqlite3_vfs;
typedef void (*sqlite3_syscall_ptr)(void);
struct sqlite3_vfs {
  int iVersion;
  int szOsFile;
  int mxPathname;
  sqlite3_vfs *pNext;
  const char *zName;
  void *pAppData;
  int (*xOpen)(sqlite3_vfs*, sqlite3_filename zName, sqlite3_file*, int flags, int *pOutFlags);
  int (*xDelete)(sqlite3_vfs*, const char *zName, int syncDir);
  int (*xAccess)(sqlite3_vfs*, const char *zName, int flags, int *pResOut);
  int (*xFullPathname)(sqlite3_vfs*, const char *zName, int nOut, char *zOut);
  void *(*xDlOpen)(sqlite3_vfs*, const char *zFilename);
  void (*xDlError)(sqlite3_vfs*, int nByte, char *zErrMsg);
  void (*(*xDlSym)(sqlite3_vfs*, void*, const char *zSymbol))(void);
  void (*xDlClose)(sqlite3_vfs*, void*);
  int (*xRandomness)(sqlite3_vfs*, int nByte, char *zOut);
  int (*xSleep)(sqlite3_vfs*, int microseconds);
  int (*xCurrentTime)(sqlite3_vfs*, double*);
  int (*xGetLastError)(sqlite3_vfs*, int, char *);
  int (*xCurrentTimeInt64)(sqlite3_vfs*, sqlite3_int64*);
  int (*xSetSystemCall)(sqlite3_vfs*, const char *zName, sqlite3_syscall_ptr);
  sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs*, const char *zName);
  const char *(*xNextSystemCall)(sqlite3_vfs*, const char *zName);
};

#define SQLITE_OK               0
#define SQLITE_IOERR           10
#define SQLITE_NOMEM            7
#define SQLITE_FULL            13
#define SQLITE_CANTOPEN        14
#define SQLITE_IOERR_READ      (SQLITE_IOERR | (1<<8))
#define SQLITE_IOERR_WRITE     (SQLITE_IOERR | (3<<8))
#define SQLITE_IOERR_FSYNC     (SQLITE_IOERR | (4<<8))
#define SQLITE_IOERR_TRUNCATE  (SQLITE_IOERR | (6<<8))
#define SQLITE_IOERR_FSTAT     (SQLITE_IOERR | (7<<8))
#define SQLITE_IOERR_DELETE    (SQLITE_IOERR | (10<<8))
#define SQLITE_IOERR_ACCESS    (SQLITE_IOERR | (13<<8))
#define SQLITE_IOERR_LOCK      (SQLITE_IOERR | (15<<8))
#define SQLITE_IOERR_SHMLOCK   (SQLITE_IOERR | (20<<8))
#define SQLITE_IOERR_SHMMAP    (SQLITE_IOERR | (21<<8))
#define SQLITE_IOERR_SHORT_READ (SQLITE_IOERR | (2<<8))

#define SQLITE_SHM_UNLOCK       1
#define SQLITE_OPEN_READONLY    0x00000001

/* Device characteristics this VFS must not claim on the real file's behalf:
** a power cut here may tear any unsynced write. */
#define SQLITE_IOCAP_ATOMIC_ANY      0x000001ff
#define SQLITE_IOCAP_SAFE_APPEND     0x00000200
#define SQLITE_IOCAP_SEQUENTIAL      0x00000400
#define SQLITE_IOCAP_BATCH_ATOMIC    0x00004000

extern sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName) __attribute__((weak));
extern int sqlite3_vfs_register(sqlite3_vfs*, int makeDflt) __attribute__((weak));

#endif
