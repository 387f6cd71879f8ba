#include "CZooKeeper.h"
#include <stdlib.h>
#include <string.h>

typedef struct pending {
    tern_zk_callback cb;
    void *ctx;
} pending;

typedef struct watcher_box {
    tern_zk_watcher fn;
    void *ctx;
} watcher_box;

static pending *make_pending(tern_zk_callback cb, void *ctx) {
    pending *p = malloc(sizeof(pending));
    if (p) { p->cb = cb; p->ctx = ctx; }
    return p;
}

static void finish(const void *data, tern_zk_result *r) {
    pending *p = (pending *)data;
    p->cb(r, p->ctx);
    free(p);
}

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    watcher_box *box = ctx;
    if (box && box->fn) box->fn(type, state, path, box->ctx);
}

zhandle_t *tern_zk_init(const char *hosts, int session_timeout_ms, tern_zk_watcher watcher, void *ctx) {
    watcher_box *box = malloc(sizeof(watcher_box));
    if (!box) return NULL;
    box->fn = watcher; box->ctx = ctx;
    zhandle_t *zh = zookeeper_init(hosts, global_watcher, session_timeout_ms, NULL, box, 0);
    if (!zh) free(box);
    return zh;
}

void tern_zk_set_log_level(int level) { zoo_set_debug_level((ZooLogLevel)level); }

int tern_zk_close(zhandle_t *zh) {
    watcher_box *box = (watcher_box *)zoo_get_context(zh);
    int rc = zookeeper_close(zh);
    // After zookeeper_close no watcher can run any more.
    free(box);
    return rc;
}

int tern_zk_state(zhandle_t *zh) { return zoo_state(zh); }
long long tern_zk_session_id(zhandle_t *zh) { return (long long)zoo_client_id(zh)->client_id; }
int tern_zk_recv_timeout(zhandle_t *zh) { return zoo_recv_timeout(zh); }

static void string_stat_done(int rc, const char *value, const struct Stat *stat, const void *data) {
    tern_zk_result r = {0}; r.rc = rc; r.path = value; r.stat = stat; finish(data, &r);
}
static void data_done(int rc, const char *value, int len, const struct Stat *stat, const void *data) {
    tern_zk_result r = {0}; r.rc = rc; r.data = value; r.data_len = len; r.stat = stat; finish(data, &r);
}
static void stat_done(int rc, const struct Stat *stat, const void *data) {
    tern_zk_result r = {0}; r.rc = rc; r.stat = stat; finish(data, &r);
}
static void strings_stat_done(int rc, const struct String_vector *strings, const struct Stat *stat, const void *data) {
    tern_zk_result r = {0}; r.rc = rc; r.children = strings; r.stat = stat; finish(data, &r);
}
static void void_done(int rc, const void *data) {
    tern_zk_result r = {0}; r.rc = rc; finish(data, &r);
}

#define SUBMIT(call) do { \
    pending *p = make_pending(cb, ctx); \
    if (!p) return ZSYSTEMERROR; \
    int rc = (call); \
    if (rc != ZOK) free(p); \
    return rc; \
} while (0)

int tern_zk_create(zhandle_t *zh, const char *path, const char *data, int len, int flags,
                   tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_acreate2(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, flags, string_stat_done, p));
}
int tern_zk_get(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_aget(zh, path, watch, data_done, p));
}
int tern_zk_set(zhandle_t *zh, const char *path, const char *data, int len, int version,
                tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_aset(zh, path, data, len, version, stat_done, p));
}
int tern_zk_exists(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_aexists(zh, path, watch, stat_done, p));
}
int tern_zk_children(zhandle_t *zh, const char *path, int watch, tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_aget_children2(zh, path, watch, strings_stat_done, p));
}
int tern_zk_delete(zhandle_t *zh, const char *path, int version, tern_zk_callback cb, void *ctx) {
    SUBMIT(zoo_adelete(zh, path, version, void_done, p));
}

// Everything a multi needs until its completion: the ops point into these copies.
typedef struct multi_state {
    tern_zk_callback cb;
    void *ctx;
    int count;
    zoo_op_t *ops;
    zoo_op_result_t *results;
    char **paths;
    char **datas;
    char **created;   // create ops: buffers for the created path
    struct Stat *stats;
} multi_state;

static void multi_free(multi_state *m) {
    for (int i = 0; i < m->count; i++) {
        free(m->paths[i]); free(m->datas[i]); free(m->created[i]);
    }
    free(m->ops); free(m->results); free(m->paths); free(m->datas); free(m->created); free(m->stats); free(m);
}

static void multi_done(int rc, const void *data) {
    multi_state *m = (multi_state *)data;
    int *errors = calloc((size_t)m->count, sizeof(int));
    if (errors) for (int i = 0; i < m->count; i++) errors[i] = m->results[i].err;
    tern_zk_result r = {0}; r.rc = rc; r.multi_errors = errors; r.multi_count = errors ? m->count : 0;
    m->cb(&r, m->ctx);
    free(errors);
    multi_free(m);
}

int tern_zk_multi(zhandle_t *zh, int count, const int *kinds, const char *const *paths,
                  const char *const *datas, const int *lens, const int *versions, const int *flags,
                  tern_zk_callback cb, void *ctx) {
    if (count <= 0) return ZBADARGUMENTS;
    multi_state *m = calloc(1, sizeof(multi_state));
    if (!m) return ZSYSTEMERROR;
    m->cb = cb; m->ctx = ctx; m->count = count;
    m->ops = calloc((size_t)count, sizeof(zoo_op_t));
    m->results = calloc((size_t)count, sizeof(zoo_op_result_t));
    m->paths = calloc((size_t)count, sizeof(char *));
    m->datas = calloc((size_t)count, sizeof(char *));
    m->created = calloc((size_t)count, sizeof(char *));
    m->stats = calloc((size_t)count, sizeof(struct Stat));
    if (!m->ops || !m->results || !m->paths || !m->datas || !m->created || !m->stats) { multi_free(m); return ZSYSTEMERROR; }
    for (int i = 0; i < count; i++) {
        m->paths[i] = strdup(paths[i]);
        if (datas[i] && lens[i] >= 0) {
            m->datas[i] = malloc((size_t)lens[i] + 1);
            if (m->datas[i]) memcpy(m->datas[i], datas[i], (size_t)lens[i]);
        }
        switch (kinds[i]) {
        case TERN_ZK_OP_CREATE: {
            size_t cap = strlen(paths[i]) + 32;
            m->created[i] = malloc(cap);
            zoo_create_op_init(&m->ops[i], m->paths[i], m->datas[i], m->datas[i] ? lens[i] : -1,
                               &ZOO_OPEN_ACL_UNSAFE, flags[i], m->created[i], (int)cap);
            break;
        }
        case TERN_ZK_OP_DELETE: zoo_delete_op_init(&m->ops[i], m->paths[i], versions[i]); break;
        case TERN_ZK_OP_SET:
            zoo_set_op_init(&m->ops[i], m->paths[i], m->datas[i], m->datas[i] ? lens[i] : -1, versions[i], &m->stats[i]);
            break;
        default: zoo_check_op_init(&m->ops[i], m->paths[i], versions[i]); break;
        }
    }
    int rc = zoo_amulti(zh, count, m->ops, m->results, multi_done, m);
    if (rc != ZOK) multi_free(m);
    return rc;
}
