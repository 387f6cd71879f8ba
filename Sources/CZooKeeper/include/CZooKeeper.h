#ifndef TERN_CZOOKEEPER_H
#define TERN_CZOOKEEPER_H

// A thin shim over Apache ZooKeeper's multi-threaded C client (Debian: libzookeeper-mt-dev).
// Every asynchronous operation reports through one callback shape (`tern_zk_callback`) carrying a context
// pointer, so the Swift side needs a single @convention(c) trampoline instead of one per completion type.
// Completions and watch events run on the client's own completion thread, never on the caller's.

#include <zookeeper/zookeeper.h>

typedef struct tern_zk_result {
    int rc;                                   // ZOK or a negative ZooKeeper error
    const char *data;                         // get: node data (may be NULL)
    int data_len;                             // get: -1 for a NULL value
    const struct Stat *stat;                  // get, set, exists, create, children
    const char *path;                         // create: the created path (sequential suffix included)
    const struct String_vector *children;     // children
    const int *multi_errors;                  // multi: one rc per op
    int multi_count;
} tern_zk_result;

typedef void (*tern_zk_callback)(const tern_zk_result *result, void *ctx);
typedef void (*tern_zk_watcher)(int type, int state, const char *path, void *ctx);

zhandle_t *tern_zk_init(const char *hosts, int session_timeout_ms, tern_zk_watcher watcher, void *ctx);
void tern_zk_set_log_level(int level);
int tern_zk_close(zhandle_t *zh);
int tern_zk_state(zhandle_t *zh);
long long tern_zk_session_id(zhandle_t *zh);
int tern_zk_recv_timeout(zhandle_t *zh);

int tern_zk_create(zhandle_t *zh, const char *path, const char *data, int len, int flags,
                   tern_zk_callback cb, void *ctx);
int tern_zk_get(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx);
int tern_zk_set(zhandle_t *zh, const char *path, const char *data, int len, int version,
                tern_zk_callback cb, void *ctx);
int tern_zk_exists(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx);
int tern_zk_children(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx);
int tern_zk_delete(zhandle_t *zh, const char *path, int version, tern_zk_callback cb, void *ctx);

// Multi-op: op kinds 0 create, 1 delete, 2 set, 3 check. Arrays of `count` entries; `datas` may hold NULLs.
// The shim copies everything it needs, so the caller's arrays may be freed once this returns.
enum { TERN_ZK_OP_CREATE = 0, TERN_ZK_OP_DELETE = 1, TERN_ZK_OP_SET = 2, TERN_ZK_OP_CHECK = 3 };
int tern_zk_multi(zhandle_t *zh, int count, const int *kinds, const char *const *paths,
                  const char *const *datas, const int *lens, const int *versions, const int *flags,
                  tern_zk_callback cb, void *ctx);

#endif
