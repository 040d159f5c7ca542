// The C side of package lossyvfs, as Go calls it.
#ifndef LOSSYVFS_H
#define LOSSYVFS_H

typedef struct lossy_vfs lossy_vfs;

struct lossy_stats {
  long long opens;
  long long ops;             // writes, truncates and syncs attempted
  long long writes;
  long long syncs;
  long long failed_writes;
  long long failed_syncs;
  long long crashes;
  long long reverted_files;  // files that had unsynced writes at a crash
  int open_files;
  int unsynced_files;
  int fail_write;            // the codes set by lossy_fail
  int fail_sync;
  int crash_rc;              // what the last crash's revert returned
};

int lossy_register(const char *name, lossy_vfs **out);
int lossy_crash(lossy_vfs *v, unsigned long long seed, int keepPct);
void lossy_crash_at(lossy_vfs *v, long long op, unsigned long long seed, int keepPct);
void lossy_recover(lossy_vfs *v);
void lossy_skip_syncs(lossy_vfs *v, int on);
int lossy_make_default(lossy_vfs *v, int on);
void lossy_fail(lossy_vfs *v, int writeCode, int syncCode);
void lossy_stats(lossy_vfs *v, struct lossy_stats *out);

#endif
