/* JSON-RPC 2.0 client over ws.c (API and threading rules in rpc.h / tsp/CONTRACT.md).

   Threads:
   * the reader (io_thread) owns the connection: connects, reconnects with backoff, reads every message, matches
     responses to pending calls by id and queues notifications and state changes;
   * the dispatcher runs on_notify / on_state from that queue, so a callback may itself call rpc_call (whose response
     the reader delivers meanwhile) without stalling the socket.
   Callers of rpc_call send on the connection directly (ws.c serialises writers) and wait on a per-call event. */
#include "ws.h"
#include "rpc.h"

#include <process.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_DEFAULT_TIMEOUT_MS 2000u
#define RPC_BACKOFF_MIN_MS 250u
#define RPC_BACKOFF_MAX_MS 8000u
#define RPC_READ_SLICE_MS 100u      /* the reader re-checks the stop flag this often */
#define RPC_CLOSE_MS 500u           /* close handshake on rpc_stop */
#define RPC_JOIN_MS 2000u           /* rpc_stop's bound (contract) */
/* Keepalive: after this long without a byte from the bridge the reader sends a ping, and drops the connection when
   nothing arrives within the same time again. Without it a bridge host that vanished (no FIN, no RST) would leave
   the TSP "connected" with every call timing out and no reconnect. The bridge (Python websockets) answers pings
   itself. RO_TSP_KEEPALIVE_MS overrides it (tests; operators on links with idle timeouts). */
#define RPC_KEEPALIVE_MS 10000u
/* A connection that lived shorter than this does not reset the backoff: a server that accepts and then drops us
   at once is not hammered every 0.25 s. */
#define RPC_STABLE_MS 8000u
/* A server flooding notifications faster than on_notify consumes them would grow the queue without end: past this
   the connection is dropped (the TSP resynchronises after the reconnect, see on_state). */
#define RPC_MAX_QUEUED 16384u

typedef struct pending {
    struct pending *next;
    int64_t id;
    HANDLE done_ev;
    int done;
    int status;
    cJSON *result;
    rpc_error err;
} pending;

typedef struct qitem {
    struct qitem *next;
    char *method;  /* NULL = a state change */
    cJSON *params; /* may be NULL */
    int connected;
} qitem;

struct rpc_client {
    char *url, *token;
    DWORD call_timeout_ms, connect_timeout_ms, keepalive_ms;
    rpc_notify_fn on_notify;
    rpc_state_fn on_state;
    void *ctx;

    CRITICAL_SECTION lock;      /* guards everything below */
    ws_conn *conn;              /* the live connection or NULL */
    unsigned senders;           /* rpc_call threads currently writing on conn */
    CONDITION_VARIABLE senders_cv;
    int64_t next_id;
    pending *pend;
    qitem *qhead, *qtail;
    unsigned qlen;
    CONDITION_VARIABLE q_cv;
    char last_reason[WS_REASON_LEN];

    volatile LONG stop;
    HANDLE stop_ev;        /* wakes the reader out of its backoff sleep */
    HANDLE first_try_ev;   /* set after the first connect attempt (rpc_start waits for it) */
    HANDLE io_thread, dispatch_thread;
    HMODULE pin_io, pin_dispatch; /* module references held by the threads, see thread_exit */
    DWORD dispatch_tid;
    /* References: the owner (until rpc_stop), each of the two threads, each rpc_call in progress. The last one
       frees the client, so rpc_stop never frees memory that a caller woken with RPC_EDOWN or a late thread still
       touches. */
    volatile LONG refs;
};

/* Each thread holds a reference to the module its code lives in (the TSP DLL, or the EXE) and drops it as its very
   last action: if rpc_stop ever gives up waiting (2 s bound) and TAPISRV unloads the TSP, a thread still running
   keeps the DLL mapped until it has left its code. */
static HMODULE pin_module(void)
{
    HMODULE h = NULL;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)(void *)&pin_module, &h);
    return h;
}

static void thread_exit(HMODULE pin)
{
    if (pin) FreeLibraryAndExitThread(pin, 0);
}

/* ------------------------------------------------------------------------------------------------ misc */

static char *dup_str(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Copies at most dst_len-1 bytes, never cutting a UTF-8 sequence in half (rpc_error.message is UTF-8). */
static void copy_utf8(char *dst, size_t dst_len, const char *src)
{
    size_t n = strlen(src);
    if (n >= dst_len) {
        n = dst_len - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0u) == 0x80u) n--; /* back to the start of a sequence */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_err(rpc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(rpc_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (!err) return;
    err->code = code;
    err->lineerr = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void client_free(rpc_client *c)
{
    while (c->qhead) { /* never delivered: the dispatcher stops at once on rpc_stop */
        qitem *q = c->qhead;
        c->qhead = q->next;
        free(q->method);
        cJSON_Delete(q->params);
        free(q);
    }
    if (c->io_thread) CloseHandle(c->io_thread);
    if (c->dispatch_thread) CloseHandle(c->dispatch_thread);
    if (c->stop_ev) CloseHandle(c->stop_ev);
    if (c->first_try_ev) CloseHandle(c->first_try_ev);
    DeleteCriticalSection(&c->lock);
    free(c->url);
    if (c->token) { SecureZeroMemory(c->token, strlen(c->token)); free(c->token); }
    free(c);
}

/* Drops one reference; nothing of c may be touched after this call. */
static void client_release(rpc_client *c)
{
    if (InterlockedDecrement(&c->refs) == 0) client_free(c);
}

/* ------------------------------------------------------------------------------------------ dispatch queue */

/* Caller holds c->lock. Takes ownership of method and params. 0, or -1 when the queue is full. */
static int enqueue_locked(rpc_client *c, char *method, cJSON *params, int connected)
{
    if (c->qlen >= RPC_MAX_QUEUED) { free(method); cJSON_Delete(params); return -1; }
    qitem *q = calloc(1, sizeof *q);
    if (!q) { free(method); cJSON_Delete(params); return -1; }
    q->method = method;
    q->params = params;
    q->connected = connected;
    if (c->qtail) c->qtail->next = q; else c->qhead = q;
    c->qtail = q;
    c->qlen++;
    WakeConditionVariable(&c->q_cv);
    return 0;
}

static unsigned __stdcall dispatch_main(void *arg)
{
    rpc_client *c = arg;
    EnterCriticalSection(&c->lock);
    for (;;) {
        while (!c->qhead && !c->stop) SleepConditionVariableCS(&c->q_cv, &c->lock, INFINITE); /* woken by stop */
        if (c->stop) break; /* undelivered items are dropped: rpc_stop must stay bounded */
        qitem *q = c->qhead;
        c->qhead = q->next;
        if (!c->qhead) c->qtail = NULL;
        c->qlen--;
        LeaveCriticalSection(&c->lock);
        if (q->method) { if (c->on_notify) c->on_notify(c->ctx, q->method, q->params); }
        else if (c->on_state) c->on_state(c->ctx, q->connected);
        free(q->method);
        cJSON_Delete(q->params);
        free(q);
        EnterCriticalSection(&c->lock);
    }
    HMODULE pin = c->pin_dispatch; /* read before the release: c may be freed by it */
    LeaveCriticalSection(&c->lock);
    client_release(c);
    thread_exit(pin);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- responses */

static pending *take_pending_locked(rpc_client *c, int64_t id)
{
    for (pending **pp = &c->pend; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            pending *p = *pp;
            *pp = p->next;
            p->next = NULL;
            return p;
        }
    }
    return NULL;
}

/* Fills p from a JSON-RPC error object (docs/bridge.md "Errors": -32000 carries data.lineerr as a DWORD). */
static void parse_error(const cJSON *e, rpc_error *err)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(data, "lineerr");
    memset(err, 0, sizeof *err);
    /* valuedouble, not valueint: cJSON saturates valueint at INT_MAX, and LINEERRs are 0x8000xxxx. */
    if (cJSON_IsNumber(code) && code->valuedouble >= -2147483648.0 && code->valuedouble <= 2147483647.0)
        err->code = (int)code->valuedouble;
    else
        err->code = -32603; /* malformed error object: report it as an internal error rather than invent a code */
    if (cJSON_IsNumber(le) && le->valuedouble >= 0.0 && le->valuedouble <= 4294967295.0)
        err->lineerr = (DWORD)le->valuedouble;
    copy_utf8(err->message, sizeof err->message, cJSON_IsString(msg) ? msg->valuestring : "(error without a message)");
}

static void complete(pending *p, int status, cJSON *result)
{
    p->status = status;
    p->result = result;
    p->done = 1;
    SetEvent(p->done_ev);
}

/* Fails every pending call with RPC_EDOWN. Caller holds c->lock. */
static void fail_all_locked(rpc_client *c, const char *why)
{
    while (c->pend) {
        pending *p = c->pend;
        c->pend = p->next;
        p->next = NULL;
        set_err(&p->err, 0, "connection to the bridge lost: %s", why);
        complete(p, RPC_EDOWN, NULL);
    }
}

/* Handles one text message from the bridge. Returns 0, or -1 when the connection must be dropped (reason set). */
static int handle_message(rpc_client *c, ws_conn *conn, char *text, size_t len, char *reason, size_t rl)
{
    cJSON *m = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(m)) {
        /* Not JSON-RPC (batches are not used by the bridge either): the stream cannot be trusted any more. */
        snprintf(reason, rl, "the bridge sent a message that is not a JSON object (%.40s...)", text);
        cJSON_Delete(m);
        return -1;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
    if (cJSON_IsString(method)) {
        if (id && !cJSON_IsNull(id)) {
            /* A request from the server: not part of the protocol. Answer it so a server never waits on us. */
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "jsonrpc", "2.0");
            cJSON_AddItemToObject(r, "id", cJSON_Duplicate(id, 1));
            cJSON *e = cJSON_AddObjectToObject(r, "error");
            cJSON_AddNumberToObject(e, "code", -32601);
            cJSON_AddStringToObject(e, "message", "the TSP transport accepts no requests");
            char *out = cJSON_PrintUnformatted(r);
            char ignored[WS_REASON_LEN];
            if (out) ws_send_text(conn, out, strlen(out), RPC_DEFAULT_TIMEOUT_MS, ignored, sizeof ignored);
            free(out);
            cJSON_Delete(r);
            cJSON_Delete(m);
            return 0;
        }
        char *name = dup_str(method->valuestring);
        cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(m, "params");
        cJSON_Delete(m);
        EnterCriticalSection(&c->lock);
        int q = name ? enqueue_locked(c, name, params, 0) : (cJSON_Delete(params), -1);
        LeaveCriticalSection(&c->lock);
        if (q != 0) {
            snprintf(reason, rl, "notification queue full (%u) or out of memory: on_notify is too slow", RPC_MAX_QUEUED);
            return -1;
        }
        return 0;
    }
    /* A response. Our ids are positive integers; anything else (null id of a parse-error reply, a stale or unknown
       id) matches no pending call and is dropped - the caller of a timed-out call has already gone. */
    if (!cJSON_IsNumber(id) || id->valuedouble < 1.0 || id->valuedouble > 9007199254740992.0) {
        cJSON_Delete(m);
        return 0;
    }
    int64_t key = (int64_t)id->valuedouble;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(m, "error");
    EnterCriticalSection(&c->lock);
    pending *p = take_pending_locked(c, key);
    if (p) {
        if (cJSON_IsObject(error)) {
            parse_error(error, &p->err);
            complete(p, RPC_EREMOTE, NULL);
        } else if (cJSON_GetObjectItemCaseSensitive(m, "result")) {
            /* Detached: a JSON null result stays a cJSON NULL item (contract: never a C NULL on RPC_OK). */
            complete(p, RPC_OK, cJSON_DetachItemFromObjectCaseSensitive(m, "result"));
        } else {
            set_err(&p->err, -32603, "response %lld has neither result nor error", (long long)key);
            complete(p, RPC_EREMOTE, NULL);
        }
    }
    LeaveCriticalSection(&c->lock);
    cJSON_Delete(m);
    return 0;
}

/* ----------------------------------------------------------------------------------------------- reader */

static unsigned __stdcall io_main(void *arg)
{
    rpc_client *c = arg;
    DWORD backoff = RPC_BACKOFF_MIN_MS;
    int first = 1;
    while (!c->stop) {
        char reason[WS_REASON_LEN] = "";
        ws_conn *conn = ws_connect(c->url, c->token, c->connect_timeout_ms, &c->stop, reason, sizeof reason);
        if (conn) {
            EnterCriticalSection(&c->lock);
            c->conn = conn;
            c->last_reason[0] = '\0';
            /* Queued before any message of this connection, so on_state(1) precedes its notifications. */
            enqueue_locked(c, NULL, NULL, 1);
            LeaveCriticalSection(&c->lock);
        } else {
            EnterCriticalSection(&c->lock);
            snprintf(c->last_reason, sizeof c->last_reason, "%s", reason);
            LeaveCriticalSection(&c->lock);
        }
        if (first) { first = 0; SetEvent(c->first_try_ev); }
        if (conn) {
            ULONGLONG since = GetTickCount64();
            int graceful = 0, ping_out = 0;
            for (;;) {
                char *msg = NULL;
                size_t len = 0;
                if (c->stop) { graceful = 1; break; }
                int r = ws_recv(conn, &msg, &len, RPC_READ_SLICE_MS, reason, sizeof reason);
                if (r == WS_TIMEOUT) {
                    ULONGLONG idle = GetTickCount64() - ws_last_rx(conn);
                    if (idle >= 2ull * c->keepalive_ms) {
                        snprintf(reason, sizeof reason, "no reply from the bridge to a ping within %lu ms (dead peer?)",
                                 (unsigned long)c->keepalive_ms);
                        ws_fail(conn, 1001, "keepalive timeout");
                        break;
                    }
                    if (idle >= c->keepalive_ms && !ping_out) { ws_ping(conn); ping_out = 1; }
                    if (idle < c->keepalive_ms) ping_out = 0;
                    continue;
                }
                if (r != WS_OK) break;
                r = handle_message(c, conn, msg, len, reason, sizeof reason);
                free(msg);
                if (r != 0) { ws_fail(conn, 1002, reason); break; }
            }
            /* Retire the connection: no new senders, wait for the current ones (each bounded by its call timeout;
               ws_shutdown makes them fail at once), fail the pending calls, tell the dispatcher. */
            EnterCriticalSection(&c->lock);
            c->conn = NULL;
            if (!graceful) ws_shutdown(conn);
            while (c->senders > 0) SleepConditionVariableCS(&c->senders_cv, &c->lock, RPC_READ_SLICE_MS);
            if (graceful) snprintf(reason, sizeof reason, "client stopping");
            snprintf(c->last_reason, sizeof c->last_reason, "%s", reason);
            fail_all_locked(c, reason);
            if (!c->stop) enqueue_locked(c, NULL, NULL, 0);
            LeaveCriticalSection(&c->lock);
            if (graceful) ws_close(conn, RPC_CLOSE_MS);
            else ws_free(conn);
            if (GetTickCount64() - since >= RPC_STABLE_MS) backoff = RPC_BACKOFF_MIN_MS;
        }
        if (c->stop) break;
        WaitForSingleObject(c->stop_ev, backoff); /* bounded sleep, cut short by rpc_stop */
        backoff = backoff >= RPC_BACKOFF_MAX_MS / 2 ? RPC_BACKOFF_MAX_MS : backoff * 2;
    }
    if (first) SetEvent(c->first_try_ev);
    HMODULE pin = c->pin_io;
    client_release(c);
    thread_exit(pin);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- public */

rpc_client *rpc_start(const rpc_config *cfg)
{
    if (!cfg) return NULL;
    rpc_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->url = dup_str(cfg->url ? cfg->url : "");
    c->token = cfg->token && *cfg->token ? dup_str(cfg->token) : NULL;
    c->call_timeout_ms = cfg->call_timeout_ms ? cfg->call_timeout_ms : RPC_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : RPC_DEFAULT_TIMEOUT_MS;
    c->keepalive_ms = RPC_KEEPALIVE_MS;
    char env[16];
    DWORD n = GetEnvironmentVariableA("RO_TSP_KEEPALIVE_MS", env, sizeof env);
    if (n > 0 && n < sizeof env) {
        unsigned long v = strtoul(env, NULL, 10);
        if (v >= 100 && v <= 3600000ul) c->keepalive_ms = (DWORD)v;
    }
    c->on_notify = cfg->on_notify;
    c->on_state = cfg->on_state;
    c->ctx = cfg->ctx;
    c->next_id = 1;
    c->refs = 1; /* the owner's */
    snprintf(c->last_reason, sizeof c->last_reason, "not connected yet");
    InitializeCriticalSection(&c->lock);
    InitializeConditionVariable(&c->senders_cv);
    InitializeConditionVariable(&c->q_cv);
    c->stop_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    c->first_try_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!c->url || (cfg->token && *cfg->token && !c->token) || !c->stop_ev || !c->first_try_ev) {
        client_free(c);
        return NULL;
    }
    unsigned tid = 0;
    c->pin_dispatch = pin_module();
    InterlockedIncrement(&c->refs); /* the dispatcher's */
    c->dispatch_thread = (HANDLE)_beginthreadex(NULL, 0, dispatch_main, c, 0, &tid);
    if (!c->dispatch_thread) {
        if (c->pin_dispatch) FreeLibrary(c->pin_dispatch);
        client_free(c);
        return NULL;
    }
    c->dispatch_tid = tid;
    c->pin_io = pin_module();
    InterlockedIncrement(&c->refs); /* the reader's */
    c->io_thread = (HANDLE)_beginthreadex(NULL, 0, io_main, c, 0, NULL);
    if (!c->io_thread) {
        if (c->pin_io) FreeLibrary(c->pin_io);
        InterlockedDecrement(&c->refs);
        rpc_stop(c); /* ends the dispatcher; it frees c */
        return NULL;
    }
    /* Returns after the first attempt, but never later than the connect timeout (name resolution may not be). */
    WaitForSingleObject(c->first_try_ev, c->connect_timeout_ms);
    return c;
}

int rpc_connected(rpc_client *c)
{
    if (!c) return 0;
    EnterCriticalSection(&c->lock);
    int r = c->conn != NULL;
    LeaveCriticalSection(&c->lock);
    return r;
}

static int do_call(rpc_client *c, const char *method, cJSON *params, cJSON **result, rpc_error *err);

int rpc_call(rpc_client *c, const char *method, cJSON *params, cJSON **result, rpc_error *err)
{
    rpc_error scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    if (result) *result = NULL;
    if (!c || !method) {
        cJSON_Delete(params);
        set_err(err, 0, "rpc_call: no client or no method");
        return RPC_EDOWN;
    }
    InterlockedIncrement(&c->refs); /* c stays valid until this call has returned, even across rpc_stop */
    int s = do_call(c, method, params, result, err);
    client_release(c);
    return s;
}

static int do_call(rpc_client *c, const char *method, cJSON *params, cJSON **result, rpc_error *err)
{
    ULONGLONG deadline = GetTickCount64() + c->call_timeout_ms;

    pending *p = calloc(1, sizeof *p);
    cJSON *req = cJSON_CreateObject();
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!p || !req || !ev) {
        free(p); cJSON_Delete(req); cJSON_Delete(params);
        if (ev) CloseHandle(ev);
        set_err(err, 0, "%s: out of memory", method);
        return RPC_EDOWN;
    }
    p->done_ev = ev;

    EnterCriticalSection(&c->lock);
    ws_conn *conn = c->stop ? NULL : c->conn;
    if (!conn) {
        set_err(err, 0, "%s: not connected to the bridge %s (%s)", method, c->url, c->last_reason);
        LeaveCriticalSection(&c->lock);
        CloseHandle(ev); free(p); cJSON_Delete(req); cJSON_Delete(params);
        return RPC_EDOWN;
    }
    p->id = c->next_id++;
    /* Registered before the send: the response may arrive before ws_send_text returns. */
    p->next = c->pend;
    c->pend = p;
    c->senders++; /* keeps conn alive until we are done writing (the reader waits for senders == 0) */
    LeaveCriticalSection(&c->lock);

    cJSON_AddStringToObject(req, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(req, "id", (double)p->id);
    cJSON_AddStringToObject(req, "method", method);
    if (params) cJSON_AddItemToObject(req, "params", params); /* consumed with req */
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char why[WS_REASON_LEN] = "out of memory";
    int sent = WS_ERROR;
    if (text) {
        ULONGLONG now = GetTickCount64();
        DWORD left = (DWORD)(deadline > now ? deadline - now : 1);
        sent = ws_send_text(conn, text, strlen(text), left, why, sizeof why);
        free(text);
    }
    if (sent != WS_OK && text) ws_shutdown(conn); /* a failed send means a broken stream: let the reader reconnect */

    EnterCriticalSection(&c->lock);
    if (--c->senders == 0) WakeAllConditionVariable(&c->senders_cv);
    LeaveCriticalSection(&c->lock);

    if (sent == WS_OK) {
        ULONGLONG now = GetTickCount64();
        DWORD left = (DWORD)(deadline > now ? deadline - now : 0);
        WaitForSingleObject(ev, left);
    }
    EnterCriticalSection(&c->lock);
    int status;
    if (p->done) {
        /* Completed by the reader (response, or fail_all at a connection loss); already out of the table. */
        status = p->status;
        *err = p->err;
        if (status == RPC_OK) {
            if (result) *result = p->result;
            else cJSON_Delete(p->result);
        }
    } else {
        take_pending_locked(c, p->id);
        if (sent != WS_OK) {
            status = RPC_EDOWN;
            set_err(err, 0, "%s: sending to the bridge failed: %s", method, why);
        } else {
            status = RPC_ETIMEOUT;
            set_err(err, 0, "%s: no response from the bridge within %lu ms", method, (unsigned long)c->call_timeout_ms);
        }
    }
    LeaveCriticalSection(&c->lock);
    if (status == RPC_EDOWN && p->done) {
        char tmp[sizeof err->message];
        snprintf(tmp, sizeof tmp, "%s: %s", method, err->message);
        copy_utf8(err->message, sizeof err->message, tmp);
    }
    CloseHandle(ev);
    free(p);
    return status;
}

void rpc_stop(rpc_client *c)
{
    if (!c) return;
    EnterCriticalSection(&c->lock);
    InterlockedExchange(&c->stop, 1);
    fail_all_locked(c, "client stopping"); /* callers in rpc_call return RPC_EDOWN now, not at their timeout */
    WakeAllConditionVariable(&c->q_cv);
    LeaveCriticalSection(&c->lock);
    SetEvent(c->stop_ev);
    /* One 2 s budget for both threads. The reader needs at most a read slice + the close handshake (RPC_CLOSE_MS);
       the dispatcher at most the running callback. Called from a callback (the dispatcher itself), it cannot wait
       for its own thread. Whoever ends last frees the client (references), so giving up here is safe. */
    HANDLE th[2];
    DWORD n = 0;
    if (c->io_thread) th[n++] = c->io_thread;
    if (c->dispatch_thread && GetCurrentThreadId() != c->dispatch_tid) th[n++] = c->dispatch_thread;
    if (n > 0 && WaitForMultipleObjects(n, th, TRUE, RPC_JOIN_MS) == WAIT_TIMEOUT)
        OutputDebugStringA("rotsp rpc_stop: a transport thread is still busy after 2 s; it frees the client\n");
    client_release(c);
}
