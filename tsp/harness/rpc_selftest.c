/* Self-test of the TSP transport (src/ws.c, src/rpc.c) against a live bridge; run by tests/test_tsp_transport.py
   under wine, or by hand on Windows:

     rpc_selftest main URL [--restart]   JSON-RPC checks against `ro-conformance serve --clock wall` (token from
                                         RO_TSP_TOKEN). With --restart it then prints "PLEASE_STOP_SERVER", checks
                                         the loss (on_state 0, RPC_EDOWN), prints "PLEASE_START_SERVER" and checks
                                         the reconnect. Every step prints "ok NAME ..." or "FAIL NAME: why".
     rpc_selftest rpc URL...             per URL: rpc_start, one rpc_call("now"), then up to 5 s for on_state(0);
                                         prints "RPCRESULT <RPC_* name> <ms> <message>" and "STATE0 <ms>|none".
     rpc_selftest ws URL...              one ws_connect + ws_recv per URL (a hostile test server picks the case from
                                         the path); prints "RESULT <connect|recv> <WS_* code> <reason or message>".
                                         An argument token=T sets the token for the URLs after it.

   Exit status: 0 when every check passed, 1 otherwise, 2 on bad usage. Every wait is bounded. */
#include "ws.h"
#include "rpc.h"

#include <process.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINEERR_INVALAPPHANDLE 0x80000014u /* tapi.h */
#define MAX_SEEN 64

static int failures;

static void check(int cond, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(int cond, const char *name, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (cond) printf("ok %s %s\n", name, text);
    else { printf("FAIL %s: %s\n", name, text); failures++; }
    fflush(stdout); /* the pytest reads the lines as they come (the --restart dialogue) */
}

static const char *status_name(int s)
{
    switch (s) {
    case RPC_OK: return "RPC_OK";
    case RPC_EREMOTE: return "RPC_EREMOTE";
    case RPC_ETIMEOUT: return "RPC_ETIMEOUT";
    case RPC_EDOWN: return "RPC_EDOWN";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------------ what the callbacks saw */

typedef struct {
    CRITICAL_SECTION lock;
    HANDLE changed;           /* auto-reset: pulsed on every callback */
    int states[MAX_SEEN];     /* on_state values in order */
    int nstates;
    int messages;             /* line_message notifications */
    double reply_ids[MAX_SEEN]; /* param1 of each LINE_REPLY */
    int nreplies;
    int nested_status;        /* rpc_call("now") made inside on_notify, -1 = not yet */
    DWORD notify_thread, state_thread;
    int threads_differ;       /* a callback ran on a thread other than the first one (contract: one thread) */
    rpc_client *client;
} seen_t;

static seen_t seen;

static void note_thread(DWORD *slot)
{
    DWORD me = GetCurrentThreadId();
    if (!*slot) *slot = me;
    if (seen.notify_thread && seen.notify_thread != me) seen.threads_differ = 1;
    if (seen.state_thread && seen.state_thread != me) seen.threads_differ = 1;
}

static void on_state(void *ctx, int connected)
{
    (void)ctx;
    EnterCriticalSection(&seen.lock);
    note_thread(&seen.state_thread);
    if (seen.nstates < MAX_SEEN) seen.states[seen.nstates++] = connected;
    LeaveCriticalSection(&seen.lock);
    SetEvent(seen.changed);
}

static void on_notify(void *ctx, const char *method, const cJSON *params)
{
    (void)ctx;
    int nested = 0;
    EnterCriticalSection(&seen.lock);
    note_thread(&seen.notify_thread);
    if (strcmp(method, "line_message") == 0) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "msg_name");
        const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(params, "param1");
        seen.messages++;
        if (cJSON_IsString(name) && strcmp(name->valuestring, "LINE_REPLY") == 0 && cJSON_IsNumber(p1) &&
            seen.nreplies < MAX_SEEN)
            seen.reply_ids[seen.nreplies++] = p1->valuedouble;
        nested = seen.nested_status == -1;
    }
    LeaveCriticalSection(&seen.lock);
    if (nested) {
        /* The contract allows rpc_call from on_notify: the reader thread must deliver this response meanwhile. */
        cJSON *r = NULL;
        rpc_error e;
        int s = rpc_call(seen.client, "now", NULL, &r, &e);
        cJSON_Delete(r);
        EnterCriticalSection(&seen.lock);
        seen.nested_status = s;
        LeaveCriticalSection(&seen.lock);
    }
    SetEvent(seen.changed);
}

/* Waits (bounded) until pred() holds; pred is evaluated under seen.lock. */
static int wait_for(int (*pred)(void *), void *arg, DWORD timeout_ms)
{
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    for (;;) {
        EnterCriticalSection(&seen.lock);
        int ok = pred(arg);
        LeaveCriticalSection(&seen.lock);
        if (ok) return 1;
        ULONGLONG now = GetTickCount64();
        if (now >= deadline) return 0;
        WaitForSingleObject(seen.changed, (DWORD)(deadline - now));
    }
}

static int last_state_is(void *want) { return seen.nstates > 0 && seen.states[seen.nstates - 1] == *(int *)want; }
static int reply_seen(void *id)
{
    for (int i = 0; i < seen.nreplies; i++) if (seen.reply_ids[i] == *(double *)id) return 1;
    return 0;
}
static int nested_done(void *unused) { (void)unused; return seen.nested_status != -1; }

/* ------------------------------------------------------------------------------------------ helpers */

static double ms_since(LARGE_INTEGER t0)
{
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)(t.QuadPart - t0.QuadPart) * 1000.0 / (double)f.QuadPart;
}

static cJSON *obj1(const char *k, double v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, k, v);
    return o;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads one line from stdin with a bound (the pytest answers "go" after it restarted the server). */
static int wait_stdin_line(DWORD timeout_ms)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    char ch;
    DWORD n;
    while (GetTickCount64() < deadline) {
        DWORD avail = 0;
        if (PeekNamedPipe(in, NULL, 0, NULL, &avail, NULL)) {
            if (avail == 0) { Sleep(20); continue; }
        }
        /* Not a pipe (console): a plain blocking read; the pytest always uses a pipe. */
        if (!ReadFile(in, &ch, 1, &n, NULL) || n == 0) return 0;
        if (ch == '\n') return 1;
    }
    return 0;
}

/* A call parked in the bridge (line_get_message) from another thread while the main thread stops the client. */
typedef struct {
    rpc_client *c;
    double h_line_app;
    int status;
    double ms;
    char message[256];
} parked_t;

static unsigned __stdcall parked_call(void *arg)
{
    parked_t *pk = arg;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    rpc_error e;
    LARGE_INTEGER t;
    cJSON_AddNumberToObject(p, "h_line_app", pk->h_line_app);
    cJSON_AddNumberToObject(p, "timeout", 3);
    QueryPerformanceCounter(&t);
    pk->status = rpc_call(pk->c, "line_get_message", p, &r, &e);
    pk->ms = ms_since(t);
    snprintf(pk->message, sizeof pk->message, "%s", e.message);
    cJSON_Delete(r);
    return 0;
}

/* ------------------------------------------------------------------------------------------- main mode */

static int run_main(const char *url, int restart)
{
    const char *token = getenv("RO_TSP_TOKEN");
    rpc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.url = url;
    cfg.token = token;
    cfg.call_timeout_ms = 5000;
    cfg.connect_timeout_ms = 3000;
    cfg.on_notify = on_notify;
    cfg.on_state = on_state;
    InitializeCriticalSection(&seen.lock);
    seen.changed = CreateEventW(NULL, FALSE, FALSE, NULL);
    seen.nested_status = -1;

    LARGE_INTEGER t0;
    QueryPerformanceCounter(&t0);
    rpc_client *c = rpc_start(&cfg);
    double start_ms = ms_since(t0);
    if (!c) { check(0, "start", "rpc_start returned NULL"); return 1; }
    seen.client = c;
    int one = 1, zero = 0;
    check(rpc_connected(c) && wait_for(last_state_is, &one, 3000), "connect",
          "rpc_start returned after %.1f ms, connected=%d, on_state(1) seen", start_ms, rpc_connected(c));

    cJSON *r = NULL;
    rpc_error e;
    int s = rpc_call(c, "info", NULL, &r, &e);
    check(s == RPC_OK && cJSON_IsObject(r) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "backend")), "info",
          "%s %s", status_name(s), s ? e.message : "");
    cJSON_Delete(r);

    /* Round trips: `now` is the cheapest method (docs/bridge.md). */
    enum { N = 200 };
    static double rt[N];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        LARGE_INTEGER t;
        QueryPerformanceCounter(&t);
        r = NULL;
        s = rpc_call(c, "now", NULL, &r, &e);
        rt[i] = ms_since(t);
        if (s != RPC_OK || !cJSON_IsNumber(r)) bad++;
        cJSON_Delete(r);
    }
    qsort(rt, N, sizeof rt[0], cmp_double);
    check(bad == 0, "roundtrip", "%d calls of now: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d failed", N, rt[N / 2],
          rt[N * 99 / 100], rt[N - 1], bad);

    /* A JSON null result is a cJSON NULL item, never a C NULL (contract). line_unsubscribe of a non-subscribed app
       is null, so do it before line_initialize_ex needs anything: use the app handle afterwards. */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "app_name", "rpc_selftest");
    r = NULL;
    s = rpc_call(c, "line_initialize_ex", p, &r, &e);
    const cJSON *happ = cJSON_GetObjectItemCaseSensitive(r, "h_line_app");
    double h_line_app = cJSON_IsNumber(happ) ? happ->valuedouble : 0;
    check(s == RPC_OK && h_line_app > 0, "line_initialize_ex", "%s h_line_app=%.0f %s", status_name(s), h_line_app,
          s ? e.message : "");
    cJSON_Delete(r);

    r = NULL;
    s = rpc_call(c, "line_unsubscribe", obj1("h_line_app", h_line_app), &r, &e);
    check(s == RPC_OK && r != NULL && cJSON_IsNull(r), "null_result", "%s, result is %s", status_name(s),
          r == NULL ? "C NULL" : cJSON_IsNull(r) ? "a cJSON null" : "something else");
    cJSON_Delete(r);

    /* A TAPI failure comes back as RPC_EREMOTE with code -32000 and data.lineerr (docs/bridge.md Errors). */
    r = NULL;
    s = rpc_call(c, "line_shutdown", obj1("h_line_app", 12345), &r, &e);
    check(s == RPC_EREMOTE && e.code == -32000 && e.lineerr == LINEERR_INVALAPPHANDLE && r == NULL, "lineerr",
          "%s code=%d lineerr=0x%08lX message='%s'", status_name(s), e.code, (unsigned long)e.lineerr, e.message);
    r = NULL;
    s = rpc_call(c, "no_such_method", NULL, &r, &e);
    check(s == RPC_EREMOTE && e.code == -32601 && e.lineerr == 0, "unknown_method", "%s code=%d lineerr=%lu '%s'",
          status_name(s), e.code, (unsigned long)e.lineerr, e.message);

    /* Push events: subscribe, cause a LINE_REPLY (line_make_call is asynchronous), expect it as a notification
       whose param1 is the request id the call returned; the first notification also makes a nested rpc_call. */
    r = NULL;
    s = rpc_call(c, "line_subscribe", obj1("h_line_app", h_line_app), &r, &e);
    check(s == RPC_OK, "line_subscribe", "%s %s", status_name(s), s ? e.message : "");
    cJSON_Delete(r);
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line_app", h_line_app);
    cJSON_AddNumberToObject(p, "device_id", 0);
    cJSON_AddNumberToObject(p, "api_version", 0x00020002);
    r = NULL;
    s = rpc_call(c, "line_open", p, &r, &e);
    double h_line = cJSON_IsNumber(r) ? r->valuedouble : 0;
    check(s == RPC_OK && h_line > 0, "line_open", "%s h_line=%.0f %s", status_name(s), h_line, s ? e.message : "");
    cJSON_Delete(r);
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line", h_line);
    cJSON_AddNullToObject(p, "dest_address");
    r = NULL;
    s = rpc_call(c, "line_make_call", p, &r, &e);
    double req = cJSON_IsNumber(r) ? r->valuedouble : 0;
    cJSON_Delete(r);
    int got = s == RPC_OK && req > 0 && wait_for(reply_seen, &req, 5000);
    check(got, "line_message", "%s request id %.0f, LINE_REPLY notification %s (%d messages)", status_name(s), req,
          got ? "received" : "NOT received", seen.messages);
    int nd = wait_for(nested_done, NULL, 6000);
    check(nd && seen.nested_status == RPC_OK, "nested_call", "rpc_call from on_notify: %s",
          nd ? status_name(seen.nested_status) : "did not return");
    check(!seen.threads_differ, "one_dispatch_thread", "on_notify/on_state thread %lu/%lu",
          (unsigned long)seen.notify_thread, (unsigned long)seen.state_thread);

    /* RPC_ETIMEOUT: a second client with a 300 ms call bound parks a 2 s line_get_message (wall clock). */
    rpc_config c2cfg = cfg;
    c2cfg.call_timeout_ms = 300;
    c2cfg.on_notify = NULL;
    c2cfg.on_state = NULL;
    rpc_client *c2 = rpc_start(&c2cfg);
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "app_name", "rpc_selftest-timeout");
    r = NULL;
    s = c2 ? rpc_call(c2, "line_initialize_ex", p, &r, &e) : (cJSON_Delete(p), RPC_EDOWN);
    happ = cJSON_GetObjectItemCaseSensitive(r, "h_line_app");
    double h2 = cJSON_IsNumber(happ) ? happ->valuedouble : 0;
    cJSON_Delete(r);
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line_app", h2);
    cJSON_AddNumberToObject(p, "timeout", 2);
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    r = NULL;
    s = rpc_call(c2, "line_get_message", p, &r, &e);
    double waited = ms_since(t);
    check(s == RPC_ETIMEOUT && waited >= 290 && waited < 1500, "timeout", "%s after %.0f ms: '%s'", status_name(s),
          waited, e.message);
    cJSON_Delete(r);
    /* The late response (after 2 s) must be dropped without disturbing later calls on the same client. */
    Sleep(2200);
    r = NULL;
    s = rpc_call(c2, "now", NULL, &r, &e);
    check(s == RPC_OK && cJSON_IsNumber(r), "after_timeout", "%s %s", status_name(s), s ? e.message : "");
    cJSON_Delete(r);
    QueryPerformanceCounter(&t);
    rpc_stop(c2);
    check(ms_since(t) < 2100, "stop_bounded", "rpc_stop took %.0f ms", ms_since(t));

    /* rpc_stop while another thread waits in rpc_call: that call returns RPC_EDOWN at once, not at its timeout,
       and the client is freed only after it has returned (no use after free: would crash here under wine). */
    c2cfg.call_timeout_ms = 5000;
    rpc_client *c4 = rpc_start(&c2cfg);
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "app_name", "rpc_selftest-parked");
    r = NULL;
    s = c4 ? rpc_call(c4, "line_initialize_ex", p, &r, &e) : (cJSON_Delete(p), RPC_EDOWN);
    happ = cJSON_GetObjectItemCaseSensitive(r, "h_line_app");
    static parked_t pk;
    pk.c = c4;
    pk.h_line_app = cJSON_IsNumber(happ) ? happ->valuedouble : 0;
    pk.status = -1;
    cJSON_Delete(r);
    HANDLE th = c4 ? (HANDLE)_beginthreadex(NULL, 0, parked_call, &pk, 0, NULL) : NULL;
    Sleep(300); /* the request is parked in the bridge by now */
    QueryPerformanceCounter(&t);
    rpc_stop(c4);
    double stop_ms = ms_since(t);
    DWORD joined = th ? WaitForSingleObject(th, 5000) : WAIT_FAILED;
    if (th) CloseHandle(th);
    check(s == RPC_OK && joined == WAIT_OBJECT_0 && pk.status == RPC_EDOWN && pk.ms < 1500 && stop_ms < 2100,
          "stop_with_pending", "parked call: %s after %.0f ms '%s'; rpc_stop took %.0f ms",
          pk.status >= 0 ? status_name(pk.status) : "no return", pk.ms, pk.message, stop_ms);

    /* A wrong token is refused at the handshake (HTTP 401) and reported as the reason of RPC_EDOWN. */
    if (token && *token) {
        rpc_config bad_cfg = c2cfg;
        bad_cfg.token = "wrong-token";
        rpc_client *c3 = rpc_start(&bad_cfg);
        s = c3 ? rpc_call(c3, "info", NULL, &r, &e) : RPC_EDOWN;
        check(s == RPC_EDOWN && strstr(e.message, "401") != NULL, "wrong_token", "%s '%s'", status_name(s), e.message);
        rpc_stop(c3);
    }

    /* With RO_TSP_KEEPALIVE_MS small (the pytest sets 300) the idle stretches above sent pings: the bridge's pongs
       must keep the connection up. */
    EnterCriticalSection(&seen.lock);
    int drops = 0;
    for (int i = 0; i < seen.nstates; i++) drops += seen.states[i] == 0;
    LeaveCriticalSection(&seen.lock);
    check(drops == 0 && rpc_connected(c), "no_spurious_drop", "%d connection losses while the bridge was up", drops);

    if (restart) {
        printf("PLEASE_STOP_SERVER\n");
        fflush(stdout);
        int down = wait_for(last_state_is, &zero, 15000);
        r = NULL;
        s = rpc_call(c, "now", NULL, &r, &e);
        check(down && s == RPC_EDOWN && !rpc_connected(c), "down", "on_state(0) %s, then %s '%s'",
              down ? "seen" : "NOT seen", status_name(s), e.message);
        cJSON_Delete(r);
        printf("PLEASE_START_SERVER\n");
        fflush(stdout);
        int go = wait_stdin_line(20000);
        QueryPerformanceCounter(&t);
        int up = go && wait_for(last_state_is, &one, 15000);
        double reconnect_ms = ms_since(t);
        r = NULL;
        s = rpc_call(c, "info", NULL, &r, &e);
        check(up && s == RPC_OK, "reconnect", "on_state(1) %.0f ms after the server was back; info %s %s", reconnect_ms,
              status_name(s), s ? e.message : "");
        cJSON_Delete(r);
    } else {
        p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "h_line_app", h_line_app);
        r = NULL;
        s = rpc_call(c, "line_shutdown", p, &r, &e);
        check(s == RPC_OK, "line_shutdown", "%s %s", status_name(s), s ? e.message : "");
        cJSON_Delete(r);
    }

    QueryPerformanceCounter(&t);
    rpc_stop(c);
    check(ms_since(t) < 2100, "stop", "rpc_stop took %.0f ms", ms_since(t));
    s = 0;
    printf("%s\n", failures ? "SELFTEST FAILED" : "SELFTEST PASSED");
    return failures ? 1 : 0;
}

/* -------------------------------------------------------------------------------------------- rpc mode */

static int run_rpc(int argc, char **argv)
{
    InitializeCriticalSection(&seen.lock);
    seen.changed = CreateEventW(NULL, FALSE, FALSE, NULL);
    for (int i = 0; i < argc; i++) {
        rpc_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.url = argv[i];
        cfg.call_timeout_ms = 3000;
        cfg.connect_timeout_ms = 3000;
        cfg.on_state = on_state;
        EnterCriticalSection(&seen.lock);
        seen.nstates = 0;
        LeaveCriticalSection(&seen.lock);
        rpc_client *c = rpc_start(&cfg);
        LARGE_INTEGER t;
        QueryPerformanceCounter(&t);
        cJSON *r = NULL;
        rpc_error e;
        int s = rpc_call(c, "now", NULL, &r, &e);
        printf("RPCRESULT %s %.0f %s\n", status_name(s), ms_since(t), s ? e.message : "");
        cJSON_Delete(r);
        int zero = 0;
        int down = wait_for(last_state_is, &zero, 5000);
        printf("STATE0 %s%.0f\n", down ? "" : "none ", ms_since(t));
        fflush(stdout);
        rpc_stop(c);
    }
    return 0;
}

/* --------------------------------------------------------------------------------------------- ws mode */

static int run_ws(int argc, char **argv)
{
    const char *token = getenv("RO_TSP_TOKEN");
    for (int i = 0; i < argc; i++) {
        char reason[WS_REASON_LEN] = "";
        if (strncmp(argv[i], "token=", 6) == 0) { token = argv[i] + 6; continue; } /* for the URLs after it */
        ws_conn *w = ws_connect(argv[i], token, 3000, NULL, reason, sizeof reason);
        if (!w) {
            printf("RESULT connect %d %s\n", WS_ERROR, reason);
            fflush(stdout);
            continue;
        }
        char *msg = NULL;
        size_t len = 0;
        int r = ws_recv(w, &msg, &len, 3000, reason, sizeof reason);
        if (r == WS_OK) {
            /* Echo it back so the server can check our framing (masking) too; print only the first 200 bytes. */
            ws_send_text(w, msg, len, 1000, reason, sizeof reason);
            printf("RESULT recv %d %lu %.200s\n", r, (unsigned long)len, msg);
        } else {
            printf("RESULT recv %d %s\n", r, reason);
        }
        fflush(stdout);
        free(msg);
        ws_close(w, 1000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "main") == 0)
        return run_main(argv[2], argc >= 4 && strcmp(argv[3], "--restart") == 0);
    if (argc >= 3 && strcmp(argv[1], "ws") == 0) return run_ws(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "rpc") == 0) return run_rpc(argc - 2, argv + 2);
    fprintf(stderr, "usage: rpc_selftest main ws://HOST:PORT/ [--restart] | rpc_selftest ws|rpc URL...\n");
    return 2;
}
