/* TSPI conformance harness (issue 16; tsp/CONTRACT.md): plays TAPISRV for the ro-conformance TSP.

   Usage: tspi_harness.exe PATH\rotsp.tsp [ws://HOST:PORT/]
   The bridge URL comes from the second argument, else RO_TSP_BRIDGE (the TSP reads RO_TSP_BRIDGE itself, so both
   talk to the same `ro-conformance serve --clock wall`, shared PBX, reference profile). The harness drives the
   people of the PBX (party.*, docs/bridge.md) over its own JSON-RPC connection (src/rpc.c).

   It loads the TSP with LoadLibrary, resolves every TSPI_* it uses (a missing export fails naming it), and checks
   TSPI's rules as TAPISRV relies on them (Microsoft TSPI reference,
   https://learn.microsoft.com/en-us/windows/win32/tapi/tspi-functions):
   * start-up order: lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION), providerEnumDevices, providerInit;
   * structures (docs/tapi.md §6.1): dwTotalSize = fixed size -> dwNeededSize reported, dwUsedSize <= dwTotalSize,
     nothing written past dwTotalSize, every variable part inside [fixed size, dwUsedSize], strings UTF-16 with a
     NUL; smaller than the fixed size -> LINEERR_STRUCTURETOOSMALL;
   * the Remote Office flows on the reference profile: hands-free lineMakeCall (LINECALLPARAMFLAGS_ORIGOFFHOOK),
     blind transfer, consultation transfer completed while the consultation call still rings, forwarding set /
     queried / cleared, an inbound call with LINE_NEWCALL first (and the NULL write-back), error paths;
   * whole run: every positive request id gets exactly one ASYNC_COMPLETION (possibly before the function
     returns), a failed request none; callbacks never re-entered nor concurrent; no event for an unknown or
     closed htCall; the threads each callback ran on are reported.
   One line per check: "PASS name detail" / "FAIL name detail"; exit 1 if any check failed, 2 on a usage or load
   error. Every wait is bounded. */
#include <winsock2.h>
#include <windows.h>
#include <tapi.h>
#include <tspi.h>
#include <stdarg.h>
#include <stddef.h>
#include <wchar.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cJSON.h"
#include "rpc.h"

#define LE(x) ((LONG)(x))               /* LINEERR_* constants are unsigned literals; TSPI returns LONG */
/* every LINEMEDIAMODE_* bit of TAPI 2.x, UNKNOWN (0x2) .. VIDEO (0x8000) */
#define MEDIA_MODES_ALL 0x0000FFFEu
#define WAIT_MS 15000u                   /* bound of any single wait for an event / completion */
#define PARTY_WAIT_S 15                  /* party.wait_for timeout (seconds) */

/* Reference profile (profiles/reference.yaml PIXIT) as dialled through the trunk prefix "0". */
static const WCHAR RO_DIAL[] = L"001711234567";
static const WCHAR TARGET_DIAL[] = L"00301234567";
static const char DESK_NUMBER[] = "201";

/* ------------------------------------------------------------------------------------------------------------ */
/* output */

static int g_failed, g_passed;

static void vreport(int ok, const char *name, const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    printf("%s %s %s\n", ok ? "PASS" : "FAIL", name, detail);
    fflush(stdout);
    if (ok) g_passed++; else g_failed++;
}

static int check(int ok, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(ok, name, fmt, ap);
    va_end(ap);
    return ok;
}

static void info(const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    printf("INFO %s\n", detail);
    fflush(stdout);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the TSP's exports */

#define TSPI_FUNCS(X) \
    X(lineNegotiateTSPIVersion) X(providerEnumDevices) X(providerInit) X(providerShutdown) \
    X(lineGetDevCaps) X(lineGetAddressCaps) X(lineOpen) X(lineClose) X(lineSetDefaultMediaDetection) \
    X(lineGetNumAddressIDs) X(lineSetStatusMessages) X(lineGetLineDevStatus) X(lineGetAddressStatus) \
    X(lineMakeCall) X(lineDial) X(lineAnswer) X(lineDrop) X(lineCloseCall) X(lineBlindTransfer) \
    X(lineSetupTransfer) X(lineCompleteTransfer) X(lineForward) X(lineGetCallInfo) X(lineGetCallStatus) \
    X(lineHold) X(lineUnhold) X(lineRedirect) X(lineGetID) X(providerCreateLineDevice)

#define DECLARE_PTR(name) static __typeof__(&TSPI_##name) p_##name;
TSPI_FUNCS(DECLARE_PTR)

static int load_exports(HMODULE dll)
{
    int missing = 0;
    /* Cast through void(*)(void): the documented way to silence -Wcast-function-type for GetProcAddress. */
#define LOAD_PTR(name) \
    p_##name = (__typeof__(p_##name))(void (*)(void))GetProcAddress(dll, "TSPI_" #name); \
    if (!p_##name) { check(0, "exports", "TSPI_" #name " is not exported"); missing++; }
    TSPI_FUNCS(LOAD_PTR)
#undef LOAD_PTR
    if (!missing) check(1, "exports", "every TSPI_* function the harness uses is exported");
    return missing == 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* what the TSP tells us: events, completions, threads */

typedef struct {
    DWORD seq;
    HTAPILINE htLine;
    HTAPICALL htCall;
    DWORD msg;
    DWORD_PTR p1, p2, p3;
    DWORD tid;
    HTAPICALL newcall_written;           /* LINE_NEWCALL: what we wrote back */
} ev_t;

#define MAX_EVENTS 8192
#define MAX_REQS 1024
#define MAX_CALLS 256
#define MAX_TIDS 16

typedef struct {
    const char *fn;
    int issued, returned;
    LONG ret;                            /* what the function returned */
    int completions;                     /* ASYNC_COMPLETION count */
    LONG result;                         /* lResult of the (first) completion */
    int completed_before_return;
} req_t;

typedef struct {
    HTAPICALL ht;
    HDRVCALL hd;
    int closed;                          /* TSPI_lineCloseCall done: no more events allowed */
    int from_newcall;
    int first_event_seen;                /* after LINE_NEWCALL: the next event for it must be LINE_CALLSTATE */
} call_t;

static CRITICAL_SECTION g_cs;
static CONDITION_VARIABLE g_cv;
static ev_t g_ev[MAX_EVENTS];
static DWORD g_nev;
static req_t g_req[MAX_REQS];
static DWORD g_next_req = 1;
static call_t g_calls[MAX_CALLS];
static DWORD g_ncalls;
static ULONG_PTR g_next_ht = 0x7A000010;   /* fake HTAPICALL values (TAPISRV's are pointers: opaque to the TSP) */
static HTAPILINE g_htLine = (HTAPILINE)(ULONG_PTR)0x7B000100;
static HTAPILINE g_htLine2 = (HTAPILINE)(ULONG_PTR)0x7B000200;
static int g_line_open, g_line2_open;
static int g_out_of_service;             /* scenario "out-of-service": the desk line is not in service */
static int g_newcall_refuse;             /* write NULL at the next LINE_NEWCALL */
static int g_provider_shut;              /* providerShutdown returned: no callback may come any more */
static DWORD g_main_tid;
static volatile LONG g_in_callback;      /* > 0 while a callback runs: re-entrancy / concurrency detector */
static volatile LONG g_in_tspi;          /* > 0 while the main thread is inside a TSPI function */

/* whole-run violations (checked at the end, details printed when they happen) */
static int g_reentry, g_unknown_htcall, g_unknown_htline, g_closed_event, g_after_shutdown, g_bad_completion;
static int g_newcall_order, g_bad_media;
static DWORD g_tid_event[MAX_TIDS], g_ntid_event, g_tid_compl[MAX_TIDS], g_ntid_compl;
static int g_cb_on_main_inside, g_cb_on_main_outside;

static void note_tid(DWORD *arr, DWORD *n, DWORD tid)
{
    for (DWORD i = 0; i < *n; i++) if (arr[i] == tid) return;
    if (*n < MAX_TIDS) arr[(*n)++] = tid;
}

static void violation(int *counter, const char *what, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    (*counter)++;
    printf("VIOLATION %s %s\n", what, detail);
    fflush(stdout);
}

static call_t *call_by_ht(HTAPICALL ht)
{
    for (DWORD i = 0; i < g_ncalls; i++) if (g_calls[i].ht == ht) return &g_calls[i];
    return NULL;
}

static call_t *register_call(HTAPICALL ht, HDRVCALL hd, int from_newcall)
{
    if (g_ncalls >= MAX_CALLS) return NULL;
    call_t *c = &g_calls[g_ncalls++];
    c->ht = ht; c->hd = hd; c->closed = 0; c->from_newcall = from_newcall; c->first_event_seen = 0;
    return c;
}

static HTAPICALL new_ht(void)
{
    EnterCriticalSection(&g_cs);
    HTAPICALL ht = (HTAPICALL)g_next_ht;
    g_next_ht += 0x10;
    register_call(ht, NULL, 0);
    LeaveCriticalSection(&g_cs);
    return ht;
}

static void cb_enter(const char *which)
{
    if (InterlockedIncrement(&g_in_callback) != 1)
        violation(&g_reentry, "re-entrancy", "%s entered on thread %lu while another callback was running", which,
                  GetCurrentThreadId());
    if (GetCurrentThreadId() == g_main_tid) {
        if (g_in_tspi) g_cb_on_main_inside++; else g_cb_on_main_outside++;
    }
}

static void cb_leave(void) { InterlockedDecrement(&g_in_callback); }

static int is_call_msg(DWORD msg)
{
    return msg == LINE_CALLSTATE || msg == LINE_CALLINFO || msg == LINE_MONITORDIGITS || msg == LINE_MONITORMEDIA ||
           msg == LINE_MONITORTONE || msg == LINE_GATHERDIGITS || msg == LINE_GENERATE ||
           msg == (DWORD)LINE_CALLDEVSPECIFIC || msg == (DWORD)LINE_CALLDEVSPECIFICFEATURE;
}

static void CALLBACK line_event(HTAPILINE htLine, HTAPICALL htCall, DWORD dwMsg, DWORD_PTR p1, DWORD_PTR p2,
                                DWORD_PTR p3)
{
    cb_enter("LINEEVENT");
    EnterCriticalSection(&g_cs);
    note_tid(g_tid_event, &g_ntid_event, GetCurrentThreadId());
    if (g_provider_shut)
        violation(&g_after_shutdown, "event-after-shutdown", "LINEEVENT msg %lu after TSPI_providerShutdown", dwMsg);
    int line_known = (htLine == g_htLine && g_line_open) || (htLine == g_htLine2 && g_line2_open);
    if (!line_known)
        violation(&g_unknown_htline, "unknown-htLine", "msg %lu for htLine %p (not open)", dwMsg, (void *)htLine);
    ev_t e = {0};
    e.htLine = htLine; e.htCall = htCall; e.msg = dwMsg; e.p1 = p1; e.p2 = p2; e.p3 = p3;
    e.tid = GetCurrentThreadId();
    if (dwMsg == (DWORD)LINE_NEWCALL) {
        if (htCall != NULL)
            violation(&g_newcall_order, "LINE_NEWCALL", "htCall parameter %p should be unused (NULL)", (void *)htCall);
        HTAPICALL *where = (HTAPICALL *)p2;
        HTAPICALL ht = NULL;
        for (DWORD i = 0; i < g_ncalls; i++)   /* htCall / hdCall pairs: a call TAPI has is never new again */
            if (g_calls[i].hd == (HDRVCALL)p1 && !g_calls[i].closed)
                violation(&g_newcall_order, "LINE_NEWCALL-known-call", "hdCall %p is already paired with htCall %p",
                          (void *)p1, (void *)g_calls[i].ht);
        if (g_newcall_refuse) {
            g_newcall_refuse = 0;    /* TAPI's back-pressure signal: NULL (Microsoft: LINE_NEWCALL remarks) */
        } else {
            ht = (HTAPICALL)g_next_ht;
            g_next_ht += 0x10;
            register_call(ht, (HDRVCALL)p1, 1);
        }
        if (where) *where = ht;
        else violation(&g_newcall_order, "LINE_NEWCALL", "dwParam2 (LPHTAPICALL) is NULL");
        e.newcall_written = ht;
    } else if (htCall != NULL) {
        call_t *c = call_by_ht(htCall);
        if (!c) violation(&g_unknown_htcall, "unknown-htCall", "msg %lu for htCall %p TAPI never gave", dwMsg,
                          (void *)htCall);
        else {
            if (c->closed) violation(&g_closed_event, "closed-htCall", "msg %lu for htCall %p after "
                                     "TSPI_lineCloseCall", dwMsg, (void *)htCall);
            if (c->from_newcall && !c->first_event_seen && dwMsg != LINE_CALLSTATE)
                violation(&g_newcall_order, "LINE_NEWCALL-then-CALLSTATE", "first message after LINE_NEWCALL for "
                          "htCall %p is %lu, not LINE_CALLSTATE", (void *)htCall, dwMsg);
            c->first_event_seen = 1;
        }
    } else if (is_call_msg(dwMsg)) {
        violation(&g_unknown_htcall, "unknown-htCall", "call message %lu with htCall NULL (a call TAPI does not "
                  "know: LINE_NEWCALL must come first)", dwMsg);
    }
    if (dwMsg == LINE_CALLSTATE && (p3 & ~(DWORD_PTR)MEDIA_MODES_ALL) != 0)
        violation(&g_bad_media, "CALLSTATE-media", "dwParam3 0x%lx is not a LINEMEDIAMODE_* set (TSPI: the media "
                  "mode)", (unsigned long)p3);
    if (dwMsg == LINE_CLOSE) {   /* the line is closed from now on: further events for it are violations */
        if (htLine == g_htLine) g_line_open = 0;
        if (htLine == g_htLine2) g_line2_open = 0;
    }
    if (g_nev < MAX_EVENTS) { e.seq = g_nev; g_ev[g_nev++] = e; }
    WakeAllConditionVariable(&g_cv);
    LeaveCriticalSection(&g_cs);
    cb_leave();
}

#define HPROVIDER_GIVEN ((HPROVIDER)(ULONG_PTR)0x7C000001)
#define MAX_CREATES 64
static DWORD_PTR g_create_temp[MAX_CREATES];
static DWORD g_ncreates;
static int g_create_bad;

/* lpfnLineCreateProc of providerEnumDevices: LINE_CREATE(hProvider, temporary device id) for a device that
   appeared later (Microsoft: LINE_CREATE (TSPI)). */
static void CALLBACK line_create_event(HTAPILINE htLine, HTAPICALL htCall, DWORD dwMsg, DWORD_PTR p1, DWORD_PTR p2,
                                       DWORD_PTR p3)
{
    (void)p3;
    cb_enter("LINEEVENT(create)");
    EnterCriticalSection(&g_cs);
    note_tid(g_tid_event, &g_ntid_event, GetCurrentThreadId());
    if (dwMsg != LINE_CREATE || htLine != NULL || htCall != NULL || p1 != (DWORD_PTR)HPROVIDER_GIVEN) {
        g_create_bad++;
        printf("VIOLATION LINE_CREATE-proc msg %lu htLine %p htCall %p dwParam1 %p (want LINE_CREATE, NULL, NULL, the "
               "hProvider %p)\n", dwMsg, (void *)htLine, (void *)htCall, (void *)p1, (void *)HPROVIDER_GIVEN);
    } else if (g_ncreates < MAX_CREATES) {
        g_create_temp[g_ncreates++] = p2;
    }
    WakeAllConditionVariable(&g_cv);
    LeaveCriticalSection(&g_cs);
    cb_leave();
}

static void CALLBACK phone_create_event(HTAPIPHONE htPhone, DWORD dwMsg, DWORD_PTR p1, DWORD_PTR p2, DWORD_PTR p3)
{
    (void)htPhone; (void)p1; (void)p2; (void)p3;
    cb_enter("PHONEEVENT");
    info("PHONE_CREATE-proc message %lu (this TSP has no phones)", dwMsg);
    cb_leave();
}

static void CALLBACK async_completion(DRV_REQUESTID id, LONG result)
{
    cb_enter("ASYNC_COMPLETION");
    EnterCriticalSection(&g_cs);
    note_tid(g_tid_compl, &g_ntid_compl, GetCurrentThreadId());
    if (g_provider_shut)
        violation(&g_after_shutdown, "completion-after-shutdown", "request %lu completed after providerShutdown", id);
    if (id == 0 || id >= MAX_REQS || !g_req[id].issued) {
        violation(&g_bad_completion, "completion-unknown-id", "ASYNC_COMPLETION for request id %lu never issued", id);
    } else {
        req_t *r = &g_req[id];
        if (r->completions == 0) r->result = result;
        r->completions++;
        if (!r->returned) r->completed_before_return = 1;
        if (r->completions > 1)
            violation(&g_bad_completion, "completion-twice", "request %lu (%s) completed %d times (now 0x%08lX)",
                      id, r->fn, r->completions, (unsigned long)result);
        if (r->returned && r->ret != (LONG)id)
            violation(&g_bad_completion, "completion-of-failed", "request %lu (%s) returned 0x%08lX synchronously "
                      "and was completed too", id, r->fn, (unsigned long)r->ret);
    }
    WakeAllConditionVariable(&g_cv);
    LeaveCriticalSection(&g_cs);
    cb_leave();
}

/* ------------------------------------------------------------------------------------------------------------ */
/* requests */

static DRV_REQUESTID req_new(const char *fn)
{
    EnterCriticalSection(&g_cs);
    DRV_REQUESTID id = g_next_req < MAX_REQS ? g_next_req++ : 0;
    if (id) { g_req[id].fn = fn; g_req[id].issued = 1; }
    LeaveCriticalSection(&g_cs);
    return id;
}

/* Records what an async TSPI function returned; its rule: dwRequestID or a negative LINEERR. */
static LONG req_returned(DRV_REQUESTID id, LONG ret)
{
    EnterCriticalSection(&g_cs);
    req_t *r = &g_req[id];
    r->returned = 1;
    r->ret = ret;
    int bad = ret >= 0 && ret != (LONG)id;
    int completed_failed = ret < 0 && r->completions > 0;
    LeaveCriticalSection(&g_cs);
    if (bad) violation(&g_bad_completion, "async-return", "%s returned %ld: neither its request id %lu nor a "
                       "negative LINEERR", r->fn, (long)ret, id);
    if (completed_failed) violation(&g_bad_completion, "completion-of-failed", "%s returned 0x%08lX but request %lu "
                                    "was completed", r->fn, (unsigned long)ret, id);
    return ret;
}

/* Waits (bounded) for the completion of request id; returns 1 and *result, or 0 on timeout. */
static int req_wait(DRV_REQUESTID id, DWORD timeout_ms, LONG *result)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    EnterCriticalSection(&g_cs);
    while (g_req[id].completions == 0) {
        ULONGLONG now = GetTickCount64();
        if (now >= end) break;
        SleepConditionVariableCS(&g_cv, &g_cs, (DWORD)(end - now));
    }
    int done = g_req[id].completions > 0;
    if (done && result) *result = g_req[id].result;
    LeaveCriticalSection(&g_cs);
    return done;
}

/* Every TSPI call is timed: none may block longer than the TSP's stated network bound (one bridge round trip,
   2 s in rpc.c, plus local work) - TAPISRV calls them on its own threads. */
#define TSPI_BOUND_MS 3000u
static ULONGLONG g_tspi_t0, g_tspi_max;
static int g_tspi_slow;
#define ENTER_TSPI() (InterlockedIncrement(&g_in_tspi), g_tspi_t0 = GetTickCount64())
#define LEAVE_TSPI() (InterlockedDecrement(&g_in_tspi), tspi_timed())
static void tspi_timed(void)
{
    ULONGLONG d = GetTickCount64() - g_tspi_t0;
    if (d > g_tspi_max) g_tspi_max = d;
    if (d > TSPI_BOUND_MS) { g_tspi_slow++; printf("VIOLATION slow-TSPI a TSPI call took %llu ms\n", d); }
}

/* Runs one async request to its completion; returns the lResult (0 = success) or the synchronous error;
   0x7FFFFFFF when it never completed (a FAIL is printed by the caller's check). */
#define NO_COMPLETION 0x7FFFFFFF
#define ASYNC(fnname, id, call_expr, out) do { \
        ENTER_TSPI(); LONG ret_ = (call_expr); LEAVE_TSPI(); \
        req_returned((id), ret_); \
        LONG res_ = NO_COMPLETION; \
        if (ret_ < 0) res_ = ret_; \
        else if (ret_ == (LONG)(id) && !req_wait((id), WAIT_MS, &res_)) \
            check(0, fnname, "request %lu returned, no ASYNC_COMPLETION within %u ms", (unsigned long)(id), WAIT_MS); \
        (out) = res_; \
    } while (0)

/* ------------------------------------------------------------------------------------------------------------ */
/* waiting for events */

typedef int (*ev_pred)(const ev_t *e, const void *arg);

/* First event at index >= *from matching pred within timeout; copies it, moves *from past it. */
static int wait_event(DWORD *from, ev_pred pred, const void *arg, DWORD timeout_ms, ev_t *out)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    EnterCriticalSection(&g_cs);
    for (;;) {
        for (DWORD i = *from; i < g_nev; i++) {
            if (pred(&g_ev[i], arg)) {
                if (out) *out = g_ev[i];
                *from = i + 1;
                LeaveCriticalSection(&g_cs);
                return 1;
            }
        }
        ULONGLONG now = GetTickCount64();
        if (now >= end) break;
        SleepConditionVariableCS(&g_cv, &g_cs, (DWORD)(end - now));
    }
    LeaveCriticalSection(&g_cs);
    return 0;
}

typedef struct { HTAPICALL ht; DWORD states; } cs_arg;
static int pred_callstate(const ev_t *e, const void *arg)
{
    const cs_arg *a = arg;
    return e->msg == LINE_CALLSTATE && e->htCall == a->ht && (e->p1 & a->states);
}
static int pred_newcall(const ev_t *e, const void *arg) { (void)arg; return e->msg == (DWORD)LINE_NEWCALL; }
static int pred_any_of_call(const ev_t *e, const void *arg)
{
    return e->htCall == *(const HTAPICALL *)arg;
}

static DWORD ev_count(void)
{
    EnterCriticalSection(&g_cs);
    DWORD n = g_nev;
    LeaveCriticalSection(&g_cs);
    return n;
}

/* Waits for a LINE_CALLSTATE of ht in states; prints the check. */
static int expect_state(const char *name, HTAPICALL ht, DWORD from, DWORD states, const char *what)
{
    cs_arg a = {ht, states};
    ev_t e;
    DWORD cur = from;
    if (wait_event(&cur, pred_callstate, &a, WAIT_MS, &e))
        return check(1, name, "LINE_CALLSTATE %s (0x%lx) for htCall %p", what, (unsigned long)e.p1, (void *)ht);
    /* name the states it did get, to tell a missing event from a wrong one */
    char got[256] = "";
    size_t n = 0;
    EnterCriticalSection(&g_cs);
    for (DWORD i = from; i < g_nev && n < sizeof got - 16; i++)
        if (g_ev[i].msg == LINE_CALLSTATE && g_ev[i].htCall == ht)
            n += (size_t)snprintf(got + n, sizeof got - n, " 0x%lx", (unsigned long)g_ev[i].p1);
    LeaveCriticalSection(&g_cs);
    return check(0, name, "no LINE_CALLSTATE %s for htCall %p within %u ms (states seen:%s)", what, (void *)ht, WAIT_MS,
                 n ? got : " none");
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the people of the PBX, over our own bridge connection */

static rpc_client *g_rpc;

static int party(const char *fn, const char *role, const char *number, char *state_out, size_t state_len)
{
    cJSON *p = cJSON_CreateObject(), *res = NULL;
    rpc_error err;
    cJSON_AddStringToObject(p, "role", role);
    if (number) cJSON_AddStringToObject(p, "number", number);
    int rc = rpc_call(g_rpc, fn, p, &res, &err);
    if (rc != RPC_OK) {
        info("%s(%s): rpc error %d: %s", fn, role, rc, rc == RPC_EREMOTE ? err.message : "transport");
        return 0;
    }
    if (state_out && state_len) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(res, "state");
        snprintf(state_out, state_len, "%s", cJSON_IsString(st) ? st->valuestring : "");
    }
    cJSON_Delete(res);
    return 1;
}

/* party.wait_for role states[] (comma-separated); 1 when reached, with the state reached */
static int party_wait(const char *role, const char *states_csv, char *state_out, size_t state_len)
{
    cJSON *p = cJSON_CreateObject(), *res = NULL, *arr = cJSON_CreateArray();
    char buf[128];
    rpc_error err;
    snprintf(buf, sizeof buf, "%s", states_csv);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
    cJSON_AddStringToObject(p, "role", role);
    cJSON_AddItemToObject(p, "states", arr);
    cJSON_AddNumberToObject(p, "timeout", PARTY_WAIT_S);
    int rc = rpc_call(g_rpc, "party.wait_for", p, &res, &err);
    int ok = 0;
    if (rc == RPC_OK && cJSON_IsObject(res)) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(res, "state");
        if (state_out) snprintf(state_out, state_len, "%s", cJSON_IsString(st) ? st->valuestring : "");
        ok = 1;
    } else if (rc != RPC_OK) {
        info("party.wait_for(%s, %s): rpc error %d: %s", role, states_csv, rc, err.message);
    }
    if (!ok && state_out) party("party.observe", role, NULL, state_out, state_len);
    cJSON_Delete(res);
    return ok;
}

static void parties_idle(void)
{
    static const char *const roles[] = {"remote_office", "target", "caller"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) party("party.hang_up", roles[i], NULL, NULL, 0);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* structures (docs/tapi.md §6.1/6.2) */

static DWORD fixed_devcaps(DWORD v) { return v >= 0x00030000 ? 292 : v >= 0x00020002 ? 268 : v >= 0x00020000 ? 252 : 240; }
static DWORD fixed_addrcaps(DWORD v) { return v >= 0x00020000 ? 228 : 180; }
static DWORD fixed_callinfo(DWORD v) { return v >= 0x00030000 ? 344 : v >= 0x00020000 ? 324 : 296; }
static DWORD fixed_callstatus(DWORD v) { return v >= 0x00020000 ? 56 : 36; }
#define FIXED_ADDRSTATUS 64u
#define FIXED_LINEDEVSTATUS(v) ((v) >= 0x00020000 ? 88u : 76u)   /* tapi.h: 19 DWORDs, 22 from 2.0 */
#define CANARY 0xCD
#define SLACK 256u

/* A buffer of `total` usable bytes followed by SLACK canary bytes. */
static BYTE *vbuf(DWORD total)
{
    BYTE *b = malloc(total + SLACK);
    if (!b) { fprintf(stderr, "out of memory\n"); exit(2); }
    memset(b, CANARY, total + SLACK);
    memset(b, 0, total < 12 ? total : 12);
    ((DWORD *)b)[0] = total;
    return b;
}

static int canary_intact(const BYTE *b, DWORD total)
{
    for (DWORD i = total; i < total + SLACK; i++) if (b[i] != CANARY) return 0;
    return 1;
}

typedef struct { const char *name; DWORD size_off; int utf16; } varpart;

/* Every variable part listed: inside [fixed, dwUsedSize], UTF-16 strings even-sized and NUL-terminated. */
static int check_varparts(const char *name, const BYTE *b, DWORD fixed, const varpart *parts, int n)
{
    DWORD used = ((const DWORD *)b)[2];
    int ok = 1, present = 0;
    char bad[256] = "";
    for (int i = 0; i < n; i++) {
        DWORD size = *(const DWORD *)(b + parts[i].size_off), off = *(const DWORD *)(b + parts[i].size_off + 4);
        if (!size) continue;
        present++;
        if (off < fixed || off > used || size > used - off) {
            ok = 0;
            snprintf(bad, sizeof bad, "%s size %lu offset %lu outside [%lu, dwUsedSize %lu]", parts[i].name,
                     (unsigned long)size, (unsigned long)off, (unsigned long)fixed, (unsigned long)used);
            break;
        }
        if (parts[i].utf16 && (size % 2 || *(const WCHAR *)(b + off + size - 2) != 0)) {
            ok = 0;
            snprintf(bad, sizeof bad, "%s (%lu bytes) is not a NUL-terminated UTF-16 string", parts[i].name,
                     (unsigned long)size);
            break;
        }
    }
    if (ok) return check(1, name, "%d of %d variable parts present, all inside the structure, strings UTF-16 with "
                         "a NUL", present, n);
    return check(0, name, "%s", bad);
}

/* UTF-16 field (size/offset at size_off) -> UTF-8 in out; "" when absent or out of bounds. */
static void wfield(const BYTE *b, DWORD size_off, char *out, size_t outlen)
{
    DWORD used = ((const DWORD *)b)[2];
    DWORD size = *(const DWORD *)(b + size_off), off = *(const DWORD *)(b + size_off + 4);
    out[0] = 0;
    if (!size || off > used || size > used - off || size % 2) return;
    int n = WideCharToMultiByte(CP_UTF8, 0, (const WCHAR *)(b + off), (int)(size / 2), out, (int)outlen - 1, NULL,
                                NULL);
    out[n > 0 ? n : 0] = 0;
    size_t len = strlen(out);
    while (len && out[len - 1] == 0) len--;
    out[len] = 0;
}

#define OFF(type, field) ((DWORD)offsetof(type, field))

static const varpart DEVCAPS_PARTS[] = {
    {"ProviderInfo", OFF(LINEDEVCAPS, dwProviderInfoSize), 1}, {"SwitchInfo", OFF(LINEDEVCAPS, dwSwitchInfoSize), 1},
    {"LineName", OFF(LINEDEVCAPS, dwLineNameSize), 1}, {"TerminalCaps", OFF(LINEDEVCAPS, dwTerminalCapsSize), 0},
    {"TerminalText", OFF(LINEDEVCAPS, dwTerminalTextSize), 0}, {"DevSpecific", OFF(LINEDEVCAPS, dwDevSpecificSize), 0},
    {"DeviceClasses", OFF(LINEDEVCAPS, dwDeviceClassesSize), 0},
};
static const varpart ADDRCAPS_PARTS[] = {
    {"Address", OFF(LINEADDRESSCAPS, dwAddressSize), 1}, {"DevSpecific", OFF(LINEADDRESSCAPS, dwDevSpecificSize), 0},
    {"CompletionMsgText", OFF(LINEADDRESSCAPS, dwCompletionMsgTextSize), 0},
    {"CallTreatmentList", OFF(LINEADDRESSCAPS, dwCallTreatmentListSize), 0},
    {"DeviceClasses", OFF(LINEADDRESSCAPS, dwDeviceClassesSize), 0},
};
static const varpart CALLINFO_PARTS[] = {
    {"CallerID", OFF(LINECALLINFO, dwCallerIDSize), 1}, {"CallerIDName", OFF(LINECALLINFO, dwCallerIDNameSize), 1},
    {"CalledID", OFF(LINECALLINFO, dwCalledIDSize), 1}, {"CalledIDName", OFF(LINECALLINFO, dwCalledIDNameSize), 1},
    {"ConnectedID", OFF(LINECALLINFO, dwConnectedIDSize), 1},
    {"ConnectedIDName", OFF(LINECALLINFO, dwConnectedIDNameSize), 1},
    {"RedirectionID", OFF(LINECALLINFO, dwRedirectionIDSize), 1},
    {"RedirectionIDName", OFF(LINECALLINFO, dwRedirectionIDNameSize), 1},
    {"RedirectingID", OFF(LINECALLINFO, dwRedirectingIDSize), 1},
    {"RedirectingIDName", OFF(LINECALLINFO, dwRedirectingIDNameSize), 1},
    {"AppName", OFF(LINECALLINFO, dwAppNameSize), 1},
    {"DisplayableAddress", OFF(LINECALLINFO, dwDisplayableAddressSize), 1},
    {"CalledParty", OFF(LINECALLINFO, dwCalledPartySize), 1}, {"Comment", OFF(LINECALLINFO, dwCommentSize), 1},
    {"Display", OFF(LINECALLINFO, dwDisplaySize), 0}, {"UserUserInfo", OFF(LINECALLINFO, dwUserUserInfoSize), 0},
    {"DevSpecific", OFF(LINECALLINFO, dwDevSpecificSize), 0},
};
static const varpart ADDRSTATUS_PARTS[] = {
    {"Forward", OFF(LINEADDRESSSTATUS, dwForwardSize), 0},
    {"TerminalModes", OFF(LINEADDRESSSTATUS, dwTerminalModesSize), 0},
    {"DevSpecific", OFF(LINEADDRESSSTATUS, dwDevSpecificSize), 0},
};
#define NPARTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef LONG (*get_fn)(void *ctx, void *buf);

/* The size protocol of one returned structure: fixed size -> dwNeededSize (> fixed when there is variable data),
   dwUsedSize <= dwTotalSize, canary intact; fixed-4 -> LINEERR_STRUCTURETOOSMALL, canary intact; then the full
   size: dwUsedSize == dwNeededSize <= dwTotalSize and the variable parts. Returns the full buffer (caller frees). */
static BYTE *size_protocol(const char *name, get_fn fn, void *ctx, DWORD fixed, const varpart *parts, int nparts,
                           int expect_variable)
{
    char cname[128];
    BYTE *b = vbuf(fixed);
    ENTER_TSPI(); LONG rc = fn(ctx, b); LEAVE_TSPI();
    DWORD needed = ((DWORD *)b)[1], used = ((DWORD *)b)[2];
    snprintf(cname, sizeof cname, "%s.fixed-size", name);
    check(rc == 0 && used <= fixed && needed >= used && (!expect_variable || needed > fixed) && canary_intact(b, fixed),
          cname, "dwTotalSize %lu: rc 0x%08lX dwNeededSize %lu dwUsedSize %lu, nothing written past dwTotalSize: %s",
          (unsigned long)fixed, (unsigned long)rc, (unsigned long)needed, (unsigned long)used,
          canary_intact(b, fixed) ? "yes" : "NO");
    if (rc == 0 && used <= fixed && nparts) {
        snprintf(cname, sizeof cname, "%s.fixed-size-parts", name);
        check_varparts(cname, b, fixed, parts, nparts);
    }
    free(b);

    DWORD small = fixed - 4;
    b = vbuf(small);
    ENTER_TSPI(); rc = fn(ctx, b); LEAVE_TSPI();
    snprintf(cname, sizeof cname, "%s.too-small", name);
    check(rc == LE(LINEERR_STRUCTURETOOSMALL) && canary_intact(b, small), cname,
          "dwTotalSize %lu (< fixed %lu): rc 0x%08lX (want LINEERR_STRUCTURETOOSMALL), nothing written past it: %s",
          (unsigned long)small, (unsigned long)fixed, (unsigned long)rc, canary_intact(b, small) ? "yes" : "NO");
    free(b);

    DWORD full = (needed > fixed ? needed : fixed) + 64;
    b = vbuf(full);
    ENTER_TSPI(); rc = fn(ctx, b); LEAVE_TSPI();
    needed = ((DWORD *)b)[1]; used = ((DWORD *)b)[2];
    snprintf(cname, sizeof cname, "%s.full", name);
    check(rc == 0 && used == needed && used <= full && canary_intact(b, full), cname,
          "dwTotalSize %lu: rc 0x%08lX dwNeededSize %lu dwUsedSize %lu", (unsigned long)full, (unsigned long)rc,
          (unsigned long)needed, (unsigned long)used);
    snprintf(cname, sizeof cname, "%s.parts", name);
    if (rc == 0 && nparts) check_varparts(cname, b, fixed, parts, nparts);
    return b;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the run */

static DWORD g_ver = 0, g_ndevs, g_base = 3, g_desk_dev = 0xFFFFFFFF;
static const DWORD g_provider_id = 7;
static HDRVLINE g_hdLine;
static DWORD g_line_states, g_address_states;   /* from the desk's caps */

typedef struct { DWORD dev; DWORD ver; } dev_ctx;
static LONG get_devcaps(void *ctx, void *buf)
{
    const dev_ctx *c = ctx;
    return p_lineGetDevCaps(c->dev, c->ver, 0, buf);
}
static LONG get_addrcaps(void *ctx, void *buf)
{
    const dev_ctx *c = ctx;
    return p_lineGetAddressCaps(c->dev, 0, c->ver, 0, buf);
}
static LONG get_callinfo(void *ctx, void *buf) { return p_lineGetCallInfo(*(HDRVCALL *)ctx, buf); }
static LONG get_callstatus(void *ctx, void *buf) { return p_lineGetCallStatus(*(HDRVCALL *)ctx, buf); }
static LONG get_addrstatus(void *ctx, void *buf) { return p_lineGetAddressStatus(*(HDRVLINE *)ctx, 0, buf); }

static int start_provider(void)
{
    DWORD ver = 0;
    ENTER_TSPI();
    LONG rc = p_lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION, 0x00010003, 0x00030001, &ver);
    LEAVE_TSPI();
    check(rc == 0 && ver >= 0x00020000 && ver <= 0x00030001, "negotiate.initialize",
          "INITIALIZE_NEGOTIATION 1.3..3.1: rc 0x%08lX version 0x%08lX", (unsigned long)rc, (unsigned long)ver);
    if (rc) return 0;
    g_ver = ver;

    DWORD nlines = 0, nphones = 0xFFFF;
    ENTER_TSPI();
    rc = p_providerEnumDevices(g_provider_id, &nlines, &nphones, HPROVIDER_GIVEN, line_create_event,
                               phone_create_event);
    LEAVE_TSPI();
    check(rc == 0 && nlines >= 1, "enumerate", "providerEnumDevices: rc 0x%08lX lines %lu phones %lu",
          (unsigned long)rc, (unsigned long)nlines, (unsigned long)nphones);
    if (rc || !nlines) return 0;
    g_ndevs = nlines;

    DWORD options = 0;
    ENTER_TSPI();
    rc = p_providerInit(g_ver, g_provider_id, g_base, 0, nlines, nphones, async_completion, &options);
    LEAVE_TSPI();
    check(rc == 0, "providerInit", "rc 0x%08lX, line device id base %lu, options 0x%lx", (unsigned long)rc,
          (unsigned long)g_base, (unsigned long)options);
    return rc == 0;
}

static void enumerate_devices(void)
{
    for (DWORD i = 0; i < g_ndevs; i++) {
        DWORD dev = g_base + i, ver = 0;
        char name[96];
        ENTER_TSPI(); LONG rc = p_lineNegotiateTSPIVersion(dev, 0x00010003, 0x00030001, &ver); LEAVE_TSPI();
        snprintf(name, sizeof name, "negotiate.dev%lu", (unsigned long)dev);
        check(rc == 0 && ver >= 0x00020000 && ver <= g_ver, name, "rc 0x%08lX version 0x%08lX", (unsigned long)rc,
              (unsigned long)ver);
        if (rc) continue;
        BYTE *b = vbuf(4096);
        ENTER_TSPI(); rc = p_lineGetAddressCaps(dev, 0, ver, 0, (LPLINEADDRESSCAPS)b); LEAVE_TSPI();
        char addr[128];
        if (rc == 0) {
            wfield(b, OFF(LINEADDRESSCAPS, dwAddressSize), addr, sizeof addr);
            info("device %lu: address \"%s\" (line device id in caps %lu)", (unsigned long)dev, addr,
                 (unsigned long)((LINEADDRESSCAPS *)b)->dwLineDeviceID);
            if (!strcmp(addr, DESK_NUMBER)) g_desk_dev = dev;
        }
        free(b);
    }
    check(g_desk_dev != 0xFFFFFFFF, "desk-device", "the desk %s is a line device (found by LINEADDRESSCAPS Address, "
          "UTF-16): %lu", DESK_NUMBER, (unsigned long)g_desk_dev);
}

static void caps_checks(void)
{
    dev_ctx c = {g_desk_dev, g_ver};
    BYTE *b = size_protocol("devcaps", get_devcaps, &c, fixed_devcaps(g_ver), DEVCAPS_PARTS, NPARTS(DEVCAPS_PARTS), 1);
    LINEDEVCAPS *dc = (LINEDEVCAPS *)b;
    char linename[256], prov[256];
    wfield(b, OFF(LINEDEVCAPS, dwLineNameSize), linename, sizeof linename);
    wfield(b, OFF(LINEDEVCAPS, dwProviderInfoSize), prov, sizeof prov);
    check(dc->dwStringFormat == STRINGFORMAT_UNICODE && strstr(linename, DESK_NUMBER) != NULL, "devcaps.strings",
          "dwStringFormat %lu, LineName \"%s\", ProviderInfo \"%s\"", (unsigned long)dc->dwStringFormat, linename, prov);
    check(dc->dwNumAddresses == 1 && (dc->dwMediaModes & LINEMEDIAMODE_INTERACTIVEVOICE) &&
          (dc->dwLineFeatures & LINEFEATURE_MAKECALL), "devcaps.values",
          "dwNumAddresses %lu dwMediaModes 0x%lx dwLineFeatures 0x%lx dwPermanentLineID 0x%lx",
          (unsigned long)dc->dwNumAddresses, (unsigned long)dc->dwMediaModes, (unsigned long)dc->dwLineFeatures,
          (unsigned long)dc->dwPermanentLineID);
    g_line_states = dc->dwLineStates;
    free(b);

    /* the fixed part follows the version TAPISRV passes: a 2.0 application gets 2.0 sizes */
    dev_ctx c20 = {g_desk_dev, 0x00020000};
    free(size_protocol("devcaps-v2.0", get_devcaps, &c20, fixed_devcaps(0x00020000), DEVCAPS_PARTS,
                       NPARTS(DEVCAPS_PARTS), 1));

    b = size_protocol("addrcaps", get_addrcaps, &c, fixed_addrcaps(g_ver), ADDRCAPS_PARTS, NPARTS(ADDRCAPS_PARTS), 1);
    LINEADDRESSCAPS *ac = (LINEADDRESSCAPS *)b;
    check(ac->dwLineDeviceID == g_desk_dev && (ac->dwTransferModes & LINETRANSFERMODE_TRANSFER) &&
          (ac->dwForwardModes & LINEFORWARDMODE_UNCOND), "addrcaps.values",
          "dwLineDeviceID %lu (TAPI's id, base %lu) dwTransferModes 0x%lx dwForwardModes 0x%lx dwCallFeatures 0x%lx",
          (unsigned long)ac->dwLineDeviceID, (unsigned long)g_base, (unsigned long)ac->dwTransferModes,
          (unsigned long)ac->dwForwardModes, (unsigned long)ac->dwCallFeatures);
    g_address_states = ac->dwAddressStates;
    free(b);
}

static int open_desk(void)
{
    HDRVLINE hd = NULL;
    EnterCriticalSection(&g_cs); g_line_open = 1; LeaveCriticalSection(&g_cs);   /* events may come at once */
    ENTER_TSPI(); LONG rc = p_lineOpen(g_desk_dev, g_htLine, &hd, g_ver, line_event); LEAVE_TSPI();
    check(rc == 0 && hd != NULL, "lineOpen", "device %lu: rc 0x%08lX hdLine %p", (unsigned long)g_desk_dev,
          (unsigned long)rc, (void *)hd);
    if (rc || !hd) { g_line_open = 0; return 0; }
    g_hdLine = hd;
    /* What TAPISRV does for an owner application of this line (Microsoft: TSPI_lineSetDefaultMediaDetection). */
    ENTER_TSPI(); rc = p_lineSetDefaultMediaDetection(hd, LINEMEDIAMODE_INTERACTIVEVOICE); LEAVE_TSPI();
    check(rc == 0, "lineSetDefaultMediaDetection", "INTERACTIVEVOICE: rc 0x%08lX", (unsigned long)rc);
    /* TAPISRV passes the union of what the applications asked, within the caps */
    ENTER_TSPI(); rc = p_lineSetStatusMessages(hd, g_line_states, g_address_states & LINEADDRESSSTATE_FORWARD);
    LEAVE_TSPI();
    check(rc == 0, "lineSetStatusMessages", "line states 0x%lx, address states 0x%lx: rc 0x%08lX",
          (unsigned long)g_line_states, (unsigned long)(g_address_states & LINEADDRESSSTATE_FORWARD), (unsigned long)rc);
    DWORD n = 0;
    ENTER_TSPI(); rc = p_lineGetNumAddressIDs(hd, &n); LEAVE_TSPI();
    check(rc == 0 && n == 1, "lineGetNumAddressIDs", "rc 0x%08lX addresses %lu", (unsigned long)rc, (unsigned long)n);
    BYTE *b = vbuf(FIXED_LINEDEVSTATUS(g_ver) + 512);
    ENTER_TSPI(); rc = p_lineGetLineDevStatus(hd, (LPLINEDEVSTATUS)b); LEAVE_TSPI();
    LINEDEVSTATUS *ds = (LINEDEVSTATUS *)b;
    /* The provider's status passes through: CONNECTED always, INSERVICE unless the profile's line is out of service. */
    DWORD want = LINEDEVSTATUSFLAGS_CONNECTED | (g_out_of_service ? 0 : LINEDEVSTATUSFLAGS_INSERVICE);
    check(rc == 0 && ds->dwUsedSize <= ds->dwTotalSize &&
          (ds->dwDevStatusFlags & (LINEDEVSTATUSFLAGS_CONNECTED | LINEDEVSTATUSFLAGS_INSERVICE)) == want &&
          (g_out_of_service || (ds->dwLineFeatures & LINEFEATURE_MAKECALL)), "lineGetLineDevStatus",
          "rc 0x%08lX dwDevStatusFlags 0x%lx (want 0x%lx) dwLineFeatures 0x%lx", (unsigned long)rc,
          (unsigned long)ds->dwDevStatusFlags, (unsigned long)want, (unsigned long)ds->dwLineFeatures);
    free(b);
    return 1;
}

static LINECALLPARAMS *hands_free_params(void)
{
    /* v2.x fixed size (176) is what a 2.x TAPISRV hands over; no variable part. */
    static BYTE raw[sizeof(LINECALLPARAMS) + 64];
    memset(raw, 0, sizeof raw);
    LINECALLPARAMS *p = (LINECALLPARAMS *)raw;
    p->dwTotalSize = g_ver >= 0x00030000 ? 180 : 176;
    p->dwBearerMode = LINEBEARERMODE_VOICE;
    p->dwMediaMode = LINEMEDIAMODE_INTERACTIVEVOICE;
    p->dwCallParamFlags = LINECALLPARAMFLAGS_ORIGOFFHOOK;   /* hands-free: the PBX takes the desk off hook */
    p->dwAddressMode = LINEADDRESSMODE_ADDRESSID;
    p->dwAddressID = 0;
    return p;
}

/* Makes a hands-free call to the Remote Office number and has the remote party answer; 1 when CONNECTED. */
static int call_remote_office(const char *flow, HTAPICALL *ht_out, HDRVCALL *hd_out)
{
    char name[96], st[32];
    HTAPICALL ht = new_ht();
    HDRVCALL hd = NULL;
    DWORD from = ev_count();
    DRV_REQUESTID id = req_new("TSPI_lineMakeCall");
    LONG res;
    snprintf(name, sizeof name, "%s.lineMakeCall", flow);
    ENTER_TSPI();
    LONG ret = p_lineMakeCall(id, g_hdLine, ht, &hd, RO_DIAL, 0, hands_free_params());
    LEAVE_TSPI();
    req_returned(id, ret);
    EnterCriticalSection(&g_cs);
    call_t *c = call_by_ht(ht);
    if (c) c->hd = hd;
    int early = g_req[id].completed_before_return;
    LeaveCriticalSection(&g_cs);
    check(ret == (LONG)id && hd != NULL, name, "returned %ld (request id %lu), *lphdCall %p filled before returning%s",
          (long)ret, (unsigned long)id, (void *)hd, early ? " (completed before it returned)" : "");
    if (ret != (LONG)id || !hd) return 0;
    int done = req_wait(id, WAIT_MS, &res);
    snprintf(name, sizeof name, "%s.lineMakeCall.completion", flow);
    check(done && res == 0, name, done ? "lResult 0x%08lX" : "no completion within %u ms", done ? (unsigned long)res :
          (unsigned long)WAIT_MS);
    if (!done || res) return 0;
    snprintf(name, sizeof name, "%s.remote-alerting", flow);
    int ok = party_wait("remote_office", "alerting,connected", st, sizeof st);
    check(ok, name, "remote_office party: %s", st);
    if (!ok) return 0;
    if (!strcmp(st, "alerting")) party("party.answer", "remote_office", NULL, NULL, 0);
    snprintf(name, sizeof name, "%s.connected", flow);
    if (!expect_state(name, ht, from, LINECALLSTATE_CONNECTED, "CONNECTED")) return 0;
    *ht_out = ht; *hd_out = hd;
    return 1;
}

static void close_call(const char *flow, HTAPICALL ht, HDRVCALL hd)
{
    char name[96];
    EnterCriticalSection(&g_cs);
    call_t *c = call_by_ht(ht);
    if (c) c->closed = 1;                       /* from now on, an event for it is a violation */
    LeaveCriticalSection(&g_cs);
    ENTER_TSPI(); LONG rc = p_lineCloseCall(hd); LEAVE_TSPI();
    snprintf(name, sizeof name, "%s.lineCloseCall", flow);
    check(rc == 0, name, "hdCall %p: rc 0x%08lX", (void *)hd, (unsigned long)rc);
}

static void flow_make_call_and_blind_transfer(void)
{
    HTAPICALL ht; HDRVCALL hd;
    char st[32];
    if (!call_remote_office("handsfree", &ht, &hd)) { parties_idle(); return; }

    BYTE *b = size_protocol("callstatus", get_callstatus, &hd, fixed_callstatus(g_ver), NULL, 0, 0);
    LINECALLSTATUS *cs = (LINECALLSTATUS *)b;
    check(cs->dwCallState == LINECALLSTATE_CONNECTED && (cs->dwCallFeatures & LINECALLFEATURE_BLINDTRANSFER) &&
          (cs->dwCallFeatures & LINECALLFEATURE_DROP), "callstatus.values",
          "dwCallState 0x%lx dwCallFeatures 0x%lx dwCallPrivilege 0x%lx", (unsigned long)cs->dwCallState,
          (unsigned long)cs->dwCallFeatures, (unsigned long)cs->dwCallPrivilege);
    free(b);
    b = size_protocol("callinfo", get_callinfo, &hd, fixed_callinfo(g_ver), CALLINFO_PARTS, NPARTS(CALLINFO_PARTS), 1);
    LINECALLINFO *ci = (LINECALLINFO *)b;
    char called[128];
    wfield(b, OFF(LINECALLINFO, dwCalledIDSize), called, sizeof called);
    check(ci->dwLineDeviceID == g_desk_dev && ci->dwAddressID == 0 && !strcmp(called, "001711234567") &&
          (ci->dwOrigin & LINECALLORIGIN_OUTBOUND) && (ci->dwMediaMode & LINEMEDIAMODE_INTERACTIVEVOICE),
          "callinfo.values", "dwLineDeviceID %lu dwOrigin 0x%lx CalledID \"%s\" dwMediaMode 0x%lx",
          (unsigned long)ci->dwLineDeviceID, (unsigned long)ci->dwOrigin, called, (unsigned long)ci->dwMediaMode);
    free(b);

    DWORD from = ev_count();
    DRV_REQUESTID id = req_new("TSPI_lineBlindTransfer");
    LONG res;
    ASYNC("blind.lineBlindTransfer", id, p_lineBlindTransfer(id, hd, TARGET_DIAL, 0), res);
    check(res == 0, "blind.lineBlindTransfer", "to %ls: lResult 0x%08lX", TARGET_DIAL, (unsigned long)res);
    int ok = party_wait("target", "alerting,connected", st, sizeof st);
    check(ok, "blind.target-alerting", "target party: %s", st);
    if (ok && !strcmp(st, "alerting")) party("party.answer", "target", NULL, NULL, 0);
    ok = party_wait("target", "connected", st, sizeof st);
    char ro[32] = "";
    party("party.observe", "remote_office", NULL, ro, sizeof ro);
    check(ok && !strcmp(ro, "connected"), "blind.target-connected", "target %s, remote_office %s (connected to each "
          "other through the PBX)", st, ro);
    expect_state("blind.desk-call-idle", ht, from, LINECALLSTATE_IDLE, "IDLE");
    close_call("blind", ht, hd);
    parties_idle();
}

static void flow_consultation_transfer(void)
{
    HTAPICALL ht; HDRVCALL hd;
    char st[32];
    if (!call_remote_office("consult", &ht, &hd)) { parties_idle(); return; }
    DWORD from = ev_count();
    HTAPICALL htc = new_ht();
    HDRVCALL hdc = NULL;
    DRV_REQUESTID id = req_new("TSPI_lineSetupTransfer");
    ENTER_TSPI(); LONG ret = p_lineSetupTransfer(id, hd, htc, &hdc, NULL); LEAVE_TSPI();
    req_returned(id, ret);
    EnterCriticalSection(&g_cs);
    call_t *c = call_by_ht(htc);
    if (c) c->hd = hdc;
    LeaveCriticalSection(&g_cs);
    check(ret == (LONG)id && hdc != NULL, "consult.lineSetupTransfer", "returned %ld (request id %lu), "
          "*lphdConsultCall %p filled before returning", (long)ret, (unsigned long)id, (void *)hdc);
    LONG res = NO_COMPLETION;
    if (ret == (LONG)id) req_wait(id, WAIT_MS, &res);
    check(res == 0, "consult.lineSetupTransfer.completion", "lResult 0x%08lX", (unsigned long)res);
    if (res || !hdc) { parties_idle(); return; }
    expect_state("consult.original-onholdpendtransfer", ht, from, LINECALLSTATE_ONHOLDPENDTRANSFER,
                 "ONHOLDPENDTRANSFER");
    expect_state("consult.consult-dialtone", htc, from, LINECALLSTATE_DIALTONE, "DIALTONE");

    from = ev_count();
    id = req_new("TSPI_lineDial");
    ASYNC("consult.lineDial", id, p_lineDial(id, hdc, TARGET_DIAL, 0), res);
    check(res == 0, "consult.lineDial", "%ls: lResult 0x%08lX", TARGET_DIAL, (unsigned long)res);
    int ok = party_wait("target", "alerting", st, sizeof st);
    check(ok, "consult.target-alerting", "target party: %s", st);
    if (!ok) { parties_idle(); return; }
    expect_state("consult.consult-ringback", htc, from, LINECALLSTATE_RINGBACK | LINECALLSTATE_PROCEEDING,
                 "RINGBACK/PROCEEDING");

    from = ev_count();
    id = req_new("TSPI_lineCompleteTransfer");
    ASYNC("consult.lineCompleteTransfer", id,
          p_lineCompleteTransfer(id, hd, hdc, NULL, NULL, LINETRANSFERMODE_TRANSFER), res);
    char tgt[32] = "";
    party("party.observe", "target", NULL, tgt, sizeof tgt);
    check(res == 0, "consult.lineCompleteTransfer", "LINETRANSFERMODE_TRANSFER while the consultation call rings: "
          "lResult 0x%08lX (target now %s)", (unsigned long)res, tgt);
    if (!strcmp(tgt, "alerting")) party("party.answer", "target", NULL, NULL, 0);
    ok = party_wait("target", "connected", st, sizeof st);
    char ro[32] = "";
    party("party.observe", "remote_office", NULL, ro, sizeof ro);
    check(ok && !strcmp(ro, "connected"), "consult.target-connected", "target %s, remote_office %s", st, ro);
    expect_state("consult.original-idle", ht, from, LINECALLSTATE_IDLE, "IDLE");
    expect_state("consult.consult-idle", htc, from, LINECALLSTATE_IDLE, "IDLE");
    close_call("consult", htc, hdc);
    close_call("consult", ht, hd);
    parties_idle();
}

/* Hold / unhold a connected call, lineGetID of its line, then drop it. */
static void flow_hold(void)
{
    HTAPICALL ht; HDRVCALL hd;
    if (!call_remote_office("hold", &ht, &hd)) { parties_idle(); return; }
    DWORD from = ev_count();
    DRV_REQUESTID id = req_new("TSPI_lineHold");
    LONG res;
    ASYNC("hold.lineHold", id, p_lineHold(id, hd), res);
    check(res == 0, "hold.lineHold", "lResult 0x%08lX", (unsigned long)res);
    expect_state("hold.onhold", ht, from, LINECALLSTATE_ONHOLD, "ONHOLD");
    from = ev_count();
    id = req_new("TSPI_lineUnhold");
    ASYNC("hold.lineUnhold", id, p_lineUnhold(id, hd), res);
    check(res == 0, "hold.lineUnhold", "lResult 0x%08lX", (unsigned long)res);
    expect_state("hold.connected-again", ht, from, LINECALLSTATE_CONNECTED, "CONNECTED");

    /* lineGetID(call, "tapi/line"): the TAPI line device id of the call's line, as a DWORD in a VARSTRING */
    BYTE *b = vbuf(256);
    ENTER_TSPI(); LONG rc = p_lineGetID(NULL, 0, hd, LINECALLSELECT_CALL, (LPVARSTRING)b, L"tapi/line", NULL);
    LEAVE_TSPI();
    VARSTRING *vs = (VARSTRING *)b;
    DWORD got = vs->dwStringSize == 4 && vs->dwStringOffset + 4 <= vs->dwUsedSize ? *(DWORD *)(b + vs->dwStringOffset)
                                                                                 : 0xFFFFFFFF;
    check(rc == 0 && vs->dwStringFormat == STRINGFORMAT_BINARY && got == g_desk_dev, "lineGetID.tapi/line",
          "rc 0x%08lX format %lu size %lu value %lu (want the desk's device id %lu)", (unsigned long)rc,
          (unsigned long)vs->dwStringFormat, (unsigned long)vs->dwStringSize, (unsigned long)got,
          (unsigned long)g_desk_dev);
    free(b);

    from = ev_count();
    id = req_new("TSPI_lineDrop");
    ASYNC("hold.lineDrop", id, p_lineDrop(id, hd, NULL, 0), res);
    check(res == 0, "hold.lineDrop", "lResult 0x%08lX", (unsigned long)res);
    expect_state("hold.idle", ht, from, LINECALLSTATE_IDLE, "IDLE");
    close_call("hold", ht, hd);
    parties_idle();
}

/* An offered call redirected (deflected) to the target before the desk answers. */
static void flow_redirect(void)
{
    char st[32];
    DWORD from = ev_count();
    party("party.call", "caller", DESK_NUMBER, NULL, 0);
    ev_t nc;
    DWORD cur = from;
    if (!wait_event(&cur, pred_newcall, NULL, WAIT_MS, &nc) || !nc.newcall_written) {
        check(0, "redirect.LINE_NEWCALL", "no accepted LINE_NEWCALL within %u ms", WAIT_MS);
        parties_idle();
        return;
    }
    HTAPICALL ht = nc.newcall_written;
    HDRVCALL hd = (HDRVCALL)nc.p1;
    expect_state("redirect.offering", ht, from, LINECALLSTATE_OFFERING, "OFFERING");
    DRV_REQUESTID id = req_new("TSPI_lineRedirect");
    LONG res;
    ASYNC("redirect.lineRedirect", id, p_lineRedirect(id, hd, TARGET_DIAL, 0), res);
    check(res == 0, "redirect.lineRedirect", "to %ls: lResult 0x%08lX", TARGET_DIAL, (unsigned long)res);
    int ok = party_wait("target", "alerting,connected", st, sizeof st);
    check(ok, "redirect.target-rings", "target party: %s", st);
    expect_state("redirect.desk-idle", ht, from, LINECALLSTATE_IDLE, "IDLE");
    close_call("redirect", ht, hd);
    parties_idle();
}

/* A LINEFORWARDLIST with one entry; 24-byte LINEFORWARD entries below TSPI 3.1 (docs/tapi.md §6.3). */
static LPLINEFORWARDLIST forward_list(DWORD mode, const WCHAR *dest)
{
    static BYTE raw[512];
    DWORD entry = g_ver >= 0x00030001 ? 32 : 24;
    DWORD dlen = (DWORD)((wcslen(dest) + 1) * sizeof(WCHAR));
    memset(raw, 0, sizeof raw);
    DWORD *h = (DWORD *)raw;
    h[0] = 8 + entry + dlen;           /* dwTotalSize */
    h[1] = 1;                          /* dwNumEntries */
    DWORD *e = (DWORD *)(raw + 8);
    e[0] = mode;                       /* dwForwardMode */
    e[3] = 0;                          /* dwDestCountryCode */
    e[4] = dlen;                       /* dwDestAddressSize */
    e[5] = 8 + entry;                  /* dwDestAddressOffset: from the start of the LINEFORWARDLIST */
    memcpy(raw + 8 + entry, dest, dlen);
    return (LPLINEFORWARDLIST)raw;
}

static void flow_forwarding(void)
{
    HTAPICALL htc = new_ht();
    HDRVCALL hdc = (HDRVCALL)(ULONG_PTR)0x5A5A5A5A;   /* must come back NULL: no consultation call */
    DRV_REQUESTID id = req_new("TSPI_lineForward");
    LONG res;
    ASYNC("forward.set", id, p_lineForward(id, g_hdLine, 1, 0, forward_list(LINEFORWARDMODE_UNCOND, TARGET_DIAL), 0,
                                           htc, &hdc, NULL), res);
    check(res == 0 && hdc == NULL, "forward.set", "UNCOND -> %ls: lResult 0x%08lX, *lphdConsultCall %p (NULL: no "
          "consultation call)", TARGET_DIAL, (unsigned long)res, (void *)hdc);

    BYTE *b = size_protocol("addrstatus", get_addrstatus, &g_hdLine, FIXED_ADDRSTATUS, ADDRSTATUS_PARTS,
                            NPARTS(ADDRSTATUS_PARTS), 1);
    LINEADDRESSSTATUS *as = (LINEADDRESSSTATUS *)b;
    char dest[128] = "";
    DWORD mode = 0;
    if (as->dwForwardNumEntries >= 1 && as->dwForwardSize >= 24) {
        DWORD stride = as->dwForwardSize / as->dwForwardNumEntries;
        (void)stride;
        const DWORD *e = (const DWORD *)(b + as->dwForwardOffset);
        mode = e[0];
        /* string offsets of the entries count from the start of LINEADDRESSSTATUS (docs/tapi.md §6.3) */
        DWORD dsize = e[4], doff = e[5];
        if (dsize && doff + dsize <= as->dwUsedSize) {
            int n = WideCharToMultiByte(CP_UTF8, 0, (const WCHAR *)(b + doff), (int)(dsize / 2), dest,
                                        (int)sizeof dest - 1, NULL, NULL);
            dest[n > 0 ? n : 0] = 0;
        }
    }
    check(as->dwForwardNumEntries == 1 && mode == LINEFORWARDMODE_UNCOND && !strcmp(dest, "00301234567"),
          "forward.query", "dwForwardNumEntries %lu, entry 0: mode 0x%lx dest \"%s\"",
          (unsigned long)as->dwForwardNumEntries, (unsigned long)mode, dest);
    free(b);

    hdc = (HDRVCALL)(ULONG_PTR)0x5A5A5A5A;
    id = req_new("TSPI_lineForward");
    ASYNC("forward.clear", id, p_lineForward(id, g_hdLine, 1, 0, NULL, 0, htc, &hdc, NULL), res);
    check(res == 0, "forward.clear", "lpForwardList NULL: lResult 0x%08lX", (unsigned long)res);
    b = vbuf(1024);
    ENTER_TSPI(); LONG rc = p_lineGetAddressStatus(g_hdLine, 0, (LPLINEADDRESSSTATUS)b); LEAVE_TSPI();
    as = (LINEADDRESSSTATUS *)b;
    check(rc == 0 && as->dwForwardNumEntries == 0, "forward.cleared", "rc 0x%08lX dwForwardNumEntries %lu",
          (unsigned long)rc, (unsigned long)as->dwForwardNumEntries);
    free(b);
}

static void flow_inbound(void)
{
    char st[32];
    DWORD from = ev_count();
    check(party("party.call", "caller", DESK_NUMBER, NULL, 0), "inbound.party-call", "caller dials the desk %s",
          DESK_NUMBER);
    ev_t nc;
    DWORD cur = from;
    if (!wait_event(&cur, pred_newcall, NULL, WAIT_MS, &nc)) {
        check(0, "inbound.LINE_NEWCALL", "no LINE_NEWCALL within %u ms", WAIT_MS);
        parties_idle();
        return;
    }
    check(nc.newcall_written != NULL, "inbound.LINE_NEWCALL", "hdCall %p, htCall %p written back", (void *)nc.p1,
          (void *)nc.newcall_written);
    int ok;
    HTAPICALL ht = nc.newcall_written;
    HDRVCALL hd = (HDRVCALL)nc.p1;
    ev_t first;
    DWORD c2 = cur;
    ok = wait_event(&c2, pred_any_of_call, &ht, WAIT_MS, &first);
    check(ok && first.msg == LINE_CALLSTATE && first.p1 == LINECALLSTATE_OFFERING &&
          (first.p3 & LINEMEDIAMODE_INTERACTIVEVOICE), "inbound.offering",
          "first message for the new call: msg %lu state 0x%lx media mode (dwParam3) 0x%lx",
          ok ? (unsigned long)first.msg : 0ul, ok ? (unsigned long)first.p1 : 0ul, ok ? (unsigned long)first.p3 : 0ul);

    DRV_REQUESTID id = req_new("TSPI_lineAnswer");
    LONG res;
    ASYNC("inbound.lineAnswer", id, p_lineAnswer(id, hd, NULL, 0), res);
    check(res == 0, "inbound.lineAnswer", "lResult 0x%08lX", (unsigned long)res);
    expect_state("inbound.connected", ht, cur, LINECALLSTATE_CONNECTED, "CONNECTED");
    ok = party_wait("caller", "connected", st, sizeof st);
    check(ok, "inbound.caller-connected", "caller party: %s", st);

    DWORD f2 = ev_count();
    id = req_new("TSPI_lineDrop");
    ASYNC("inbound.lineDrop", id, p_lineDrop(id, hd, NULL, 0), res);
    check(res == 0, "inbound.lineDrop", "lResult 0x%08lX", (unsigned long)res);
    expect_state("inbound.idle", ht, f2, LINECALLSTATE_IDLE, "IDLE");

    /* error path: lineDrop of a call that is IDLE (TAPI: LINEERR_INVALCALLSTATE, synchronous or completed) */
    id = req_new("TSPI_lineDrop");
    ASYNC("errors.lineDrop-idle", id, p_lineDrop(id, hd, NULL, 0), res);
    check(res == LE(LINEERR_INVALCALLSTATE), "errors.lineDrop-idle", "lineDrop of an IDLE call: 0x%08lX (want "
          "LINEERR_INVALCALLSTATE)", (unsigned long)res);
    close_call("inbound", ht, hd);
    parties_idle();
}

/* TAPI writes NULL at LINE_NEWCALL (it is backlogged): the TSP must send nothing more about that call until a
   handle exchange succeeds; it may resend LINE_NEWCALL later or drop the call (Microsoft: LINE_NEWCALL remarks). */
static void flow_newcall_refused(void)
{
    char st[32];
    EnterCriticalSection(&g_cs); g_newcall_refuse = 1; LeaveCriticalSection(&g_cs);
    DWORD from = ev_count();
    party("party.call", "caller", DESK_NUMBER, NULL, 0);
    ev_t nc;
    DWORD cur = from;
    if (!wait_event(&cur, pred_newcall, NULL, WAIT_MS, &nc)) {
        check(0, "newcall-null.refused", "no LINE_NEWCALL within %u ms", WAIT_MS);
        EnterCriticalSection(&g_cs); g_newcall_refuse = 0; LeaveCriticalSection(&g_cs);
        parties_idle();
        return;
    }
    check(nc.newcall_written == NULL, "newcall-null.refused", "LINE_NEWCALL for hdCall %p answered with NULL",
          (void *)nc.p1);
    int ok;
    /* either a second LINE_NEWCALL (retry: we accept it) or the call ends at the caller */
    ev_t again;
    DWORD c2 = cur;
    int retried = wait_event(&c2, pred_newcall, NULL, 3000, &again);
    if (retried) {
        HTAPICALL ht = again.newcall_written;
        cs_arg a = {ht, LINECALLSTATE_OFFERING | LINECALLSTATE_ACCEPTED | LINECALLSTATE_CONNECTED};
        ev_t e;
        DWORD c3 = c2;
        int st_ok = wait_event(&c3, pred_callstate, &a, WAIT_MS, &e);
        check(st_ok, "newcall-null.retried", "LINE_NEWCALL sent again (hdCall %p), then LINE_CALLSTATE 0x%lx",
              (void *)again.p1, st_ok ? (unsigned long)e.p1 : 0ul);
        DRV_REQUESTID id = req_new("TSPI_lineDrop");
        LONG res;
        ASYNC("newcall-null.lineDrop", id, p_lineDrop(id, (HDRVCALL)again.p1, NULL, 0), res);
        check(res == 0, "newcall-null.lineDrop", "lResult 0x%08lX", (unsigned long)res);
        close_call("newcall-null", ht, (HDRVCALL)again.p1);
    } else {
        ok = party_wait("caller", "idle,busy", st, sizeof st);
        check(ok, "newcall-null.dropped", "no second LINE_NEWCALL within 3 s; the call ended at the caller: %s", st);
    }
    parties_idle();
}

static void flow_errors(void)
{
    HDRVCALL bad = (HDRVCALL)(ULONG_PTR)0x0BAD0BAD;
    HDRVLINE badline = (HDRVLINE)(ULONG_PTR)0x0BAD1BAD;
    BYTE *b = vbuf(1024);
    ENTER_TSPI(); LONG rc = p_lineGetCallStatus(bad, (LPLINECALLSTATUS)b); LEAVE_TSPI();
    check(rc == LE(LINEERR_INVALCALLHANDLE), "errors.lineGetCallStatus-bad-hdCall", "0x%08lX (want "
          "LINEERR_INVALCALLHANDLE)", (unsigned long)rc);
    free(b);
    DRV_REQUESTID id = req_new("TSPI_lineDrop");
    LONG res;
    ASYNC("errors.lineDrop-bad-hdCall", id, p_lineDrop(id, bad, NULL, 0), res);
    check(res == LE(LINEERR_INVALCALLHANDLE), "errors.lineDrop-bad-hdCall", "0x%08lX (want LINEERR_INVALCALLHANDLE)",
          (unsigned long)res);
    id = req_new("TSPI_lineBlindTransfer");
    ASYNC("errors.lineBlindTransfer-bad-hdCall", id, p_lineBlindTransfer(id, bad, TARGET_DIAL, 0), res);
    check(res == LE(LINEERR_INVALCALLHANDLE), "errors.lineBlindTransfer-bad-hdCall", "0x%08lX (want "
          "LINEERR_INVALCALLHANDLE)", (unsigned long)res);
    HTAPICALL ht = new_ht();
    HDRVCALL hd = NULL;
    id = req_new("TSPI_lineMakeCall");
    ASYNC("errors.lineMakeCall-bad-hdLine", id, p_lineMakeCall(id, badline, ht, &hd, RO_DIAL, 0, NULL), res);
    check(res == LE(LINEERR_INVALLINEHANDLE), "errors.lineMakeCall-bad-hdLine", "0x%08lX (want "
          "LINEERR_INVALLINEHANDLE)", (unsigned long)res);
    b = vbuf(1024);
    ENTER_TSPI(); rc = p_lineGetDevCaps(g_base + g_ndevs + 5, g_ver, 0, (LPLINEDEVCAPS)b); LEAVE_TSPI();
    check(rc == LE(LINEERR_BADDEVICEID) || rc == LE(LINEERR_NODEVICE), "errors.lineGetDevCaps-bad-device",
          "device %lu: 0x%08lX (want LINEERR_BADDEVICEID or LINEERR_NODEVICE)", (unsigned long)(g_base + g_ndevs + 5),
          (unsigned long)rc);
    free(b);
    DWORD ver = 0;
    ENTER_TSPI(); rc = p_lineNegotiateTSPIVersion(g_desk_dev, 0x00000001, 0x00000001, &ver); LEAVE_TSPI();
    check(rc == LE(LINEERR_INCOMPATIBLEAPIVERSION), "errors.negotiate-incompatible", "range 0.1..0.1: 0x%08lX (want "
          "LINEERR_INCOMPATIBLEAPIVERSION)", (unsigned long)rc);
}

static void shutdown_provider(void)
{
    LONG rc;
    if (g_hdLine) {
        ENTER_TSPI(); rc = p_lineClose(g_hdLine); LEAVE_TSPI();
        check(rc == 0, "lineClose", "rc 0x%08lX", (unsigned long)rc);
        EnterCriticalSection(&g_cs); g_line_open = 0; LeaveCriticalSection(&g_cs);   /* events now are violations */
    }
    ENTER_TSPI(); rc = p_providerShutdown(g_ver, g_provider_id); LEAVE_TSPI();
    check(rc == 0, "providerShutdown", "rc 0x%08lX", (unsigned long)rc);
    EnterCriticalSection(&g_cs); g_provider_shut = 1; LeaveCriticalSection(&g_cs);
    Sleep(500);   /* a callback arriving late would be counted as a violation */
}

/* ---- scenario "reconnect": the bridge is down at start, comes up, goes away, comes back. The test that runs us
   starts / stops the server when we print a READY line (tests/test_tsp_wine.py). ---- */

static int pred_line_close(const ev_t *e, const void *arg)
{
    return e->msg == LINE_CLOSE && e->htLine == *(const HTAPILINE *)arg;
}

static int wait_creates(DWORD want, DWORD timeout_ms)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    EnterCriticalSection(&g_cs);
    while (g_ncreates < want) {
        ULONGLONG now = GetTickCount64();
        if (now >= end) break;
        SleepConditionVariableCS(&g_cv, &g_cs, (DWORD)(end - now));
    }
    DWORD n = g_ncreates;
    LeaveCriticalSection(&g_cs);
    return n >= want;
}

static void scenario_reconnect(void)
{
    DWORD ver = 0, nlines = 0xFFFF, nphones = 0, options = 0;
    ENTER_TSPI(); LONG rc = p_lineNegotiateTSPIVersion(INITIALIZE_NEGOTIATION, 0x00010003, 0x00030001, &ver);
    LEAVE_TSPI();
    if (!check(rc == 0, "reconnect.negotiate", "rc 0x%08lX version 0x%08lX", (unsigned long)rc, (unsigned long)ver))
        return;
    g_ver = ver;
    ULONGLONG t = GetTickCount64();
    ENTER_TSPI();
    rc = p_providerEnumDevices(g_provider_id, &nlines, &nphones, HPROVIDER_GIVEN, line_create_event,
                               phone_create_event);
    LEAVE_TSPI();
    check(rc == 0 && nlines == 0, "reconnect.enumerate-bridge-down", "nothing listening: rc 0x%08lX, %lu lines "
          "after %llu ms", (unsigned long)rc, (unsigned long)nlines, GetTickCount64() - t);
    ENTER_TSPI(); rc = p_providerInit(g_ver, g_provider_id, g_base, 0, nlines, nphones, async_completion, &options);
    LEAVE_TSPI();
    if (!check(rc == 0, "reconnect.providerInit", "0 lines: rc 0x%08lX", (unsigned long)rc)) return;

    printf("READY bridge-down\n");     /* the test starts the bridge now */
    int ok = wait_creates(1, 60000);
    if (ok) Sleep(1000);              /* the other devices' LINE_CREATEs come together */
    EnterCriticalSection(&g_cs); DWORD ncreates = g_ncreates; LeaveCriticalSection(&g_cs);
    check(ok && g_create_bad == 0, "reconnect.LINE_CREATE", "the bridge came up: %lu LINE_CREATE with our hProvider",
          (unsigned long)ncreates);
    if (!ok) return;
    g_ndevs = 0;
    for (DWORD i = 0; i < ncreates; i++) {
        DWORD dev = g_base + i;       /* TAPISRV hands out the next free device ids */
        ENTER_TSPI(); rc = p_providerCreateLineDevice(g_create_temp[i], dev); LEAVE_TSPI();
        char name[64];
        snprintf(name, sizeof name, "reconnect.createLineDevice%lu", (unsigned long)i);
        check(rc == 0, name, "temp id %lu -> device %lu: rc 0x%08lX", (unsigned long)g_create_temp[i],
              (unsigned long)dev, (unsigned long)rc);
        if (rc == 0) g_ndevs++;
    }
    enumerate_devices();
    if (g_desk_dev == 0xFFFFFFFF) return;
    HDRVLINE hd = NULL;
    EnterCriticalSection(&g_cs); g_line_open = 1; LeaveCriticalSection(&g_cs);
    ENTER_TSPI(); rc = p_lineOpen(g_desk_dev, g_htLine, &hd, g_ver, line_event); LEAVE_TSPI();
    if (!check(rc == 0 && hd, "reconnect.lineOpen", "device %lu: rc 0x%08lX", (unsigned long)g_desk_dev,
               (unsigned long)rc)) { g_line_open = 0; return; }

    DWORD from = ev_count();
    printf("READY lines-open\n");      /* the test stops the bridge now */
    ok = wait_event(&from, pred_line_close, &g_htLine, 30000, NULL);
    check(ok, "reconnect.LINE_CLOSE", ok ? "the bridge went away: LINE_CLOSE for the open line" :
          "no LINE_CLOSE within 30 s of the bridge going away");
    if (!ok) { ENTER_TSPI(); p_lineClose(hd); LEAVE_TSPI(); EnterCriticalSection(&g_cs); g_line_open = 0;
               LeaveCriticalSection(&g_cs); return; }

    printf("READY bridge-lost\n");     /* the test starts the bridge again now */
    t = GetTickCount64();
    hd = NULL;
    rc = -1;
    while (GetTickCount64() - t < 40000) {
        EnterCriticalSection(&g_cs); g_line_open = 1; LeaveCriticalSection(&g_cs);
        ENTER_TSPI(); rc = p_lineOpen(g_desk_dev, g_htLine, &hd, g_ver, line_event); LEAVE_TSPI();
        if (rc == 0) break;
        EnterCriticalSection(&g_cs); g_line_open = 0; LeaveCriticalSection(&g_cs);
        Sleep(500);
    }
    check(rc == 0, "reconnect.reopen", "lineOpen again after the bridge came back: rc 0x%08lX after %llu ms",
          (unsigned long)rc, GetTickCount64() - t);
    EnterCriticalSection(&g_cs); ncreates = g_ncreates; LeaveCriticalSection(&g_cs);
    check(ncreates == g_ndevs, "reconnect.no-duplicate-LINE_CREATE", "%lu LINE_CREATE in all for %lu devices (the "
          "same devices after a reconnect are not new)", (unsigned long)ncreates, (unsigned long)g_ndevs);
    if (rc == 0) {
        ENTER_TSPI(); rc = p_lineClose(hd); LEAVE_TSPI();
        check(rc == 0, "reconnect.lineClose", "rc 0x%08lX", (unsigned long)rc);
    }
    EnterCriticalSection(&g_cs); g_line_open = 0; LeaveCriticalSection(&g_cs);
}

static void whole_run_checks(void)
{
    int never = 0, twice = 0, pending = 0, early = 0;
    EnterCriticalSection(&g_cs);
    for (DWORD i = 1; i < g_next_req; i++) {
        req_t *r = &g_req[i];
        if (!r->returned) continue;
        if (r->ret == (LONG)i) {
            pending++;
            if (r->completions == 0) { never++; printf("VIOLATION never-completed request %lu (%s)\n", i, r->fn); }
            if (r->completions > 1) twice++;
            if (r->completed_before_return) early++;
        }
    }
    LeaveCriticalSection(&g_cs);
    check(never == 0 && twice == 0 && g_bad_completion == 0, "rule.every-request-completed-once",
          "%d asynchronous requests accepted: %d never completed, %d completed more than once, %d other completion "
          "violations; %d completed before the function returned", pending, never, twice, g_bad_completion, early);
    check(g_reentry == 0, "rule.no-reentrancy", "%d callbacks entered while another ran", g_reentry);
    check(g_unknown_htcall == 0 && g_unknown_htline == 0 && g_closed_event == 0, "rule.no-unknown-handles",
          "%d events for an unknown htCall, %d for a line not open, %d for a closed call", g_unknown_htcall,
          g_unknown_htline, g_closed_event);
    check(g_newcall_order == 0, "rule.newcall-first", "%d LINE_NEWCALL ordering violations", g_newcall_order);
    check(g_bad_media == 0, "rule.callstate-media-mode", "%d LINE_CALLSTATE with a dwParam3 that is no media mode",
          g_bad_media);
    check(g_tspi_slow == 0, "rule.tspi-calls-bounded", "longest TSPI call %llu ms (bound %u ms), %d over it",
          g_tspi_max, TSPI_BOUND_MS, g_tspi_slow);
    check(g_create_bad == 0, "rule.line-create-proc", "%d malformed LINE_CREATE", g_create_bad);
    check(g_after_shutdown == 0, "rule.nothing-after-shutdown", "%d callbacks after providerShutdown",
          g_after_shutdown);
    char ev[256] = "", co[256] = "";
    size_t n = 0;
    for (DWORD i = 0; i < g_ntid_event; i++) n += (size_t)snprintf(ev + n, sizeof ev - n, "%lu%s", g_tid_event[i],
                                                                    g_tid_event[i] == g_main_tid ? "(main) " : " ");
    n = 0;
    for (DWORD i = 0; i < g_ntid_compl; i++) n += (size_t)snprintf(co + n, sizeof co - n, "%lu%s", g_tid_compl[i],
                                                                    g_tid_compl[i] == g_main_tid ? "(main) " : " ");
    info("threads: main %lu; LINEEVENT on %s; ASYNC_COMPLETION on %s; callbacks on the main thread inside a TSPI "
         "call: %d, outside: %d; %lu events in all", g_main_tid, ev, co, g_cb_on_main_inside, g_cb_on_main_outside,
         (unsigned long)g_nev);
    check(g_cb_on_main_outside == 0, "rule.callback-threads", "no callback on the application's thread outside a "
          "TSPI call (%d)", g_cb_on_main_outside);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tspi_harness PATH\\rotsp.tsp [ws://HOST:PORT/ [reconnect|out-of-service]]  (URL "
                        "else RO_TSP_BRIDGE)\n  reconnect: the bridge is down at start; READY lines on stdout say "
                        "when to start / stop / restart it\n  out-of-service: the bridge serves a profile whose desk "
                        "line is out of service; only the status checks run\n");
        return 2;
    }
    int reconnect = argc > 3 && !strcmp(argv[3], "reconnect");
    g_out_of_service = argc > 3 && !strcmp(argv[3], "out-of-service");
    const char *url = argc > 2 ? argv[2] : getenv("RO_TSP_BRIDGE");
    if (!url || !*url) {
        fprintf(stderr, "tspi_harness: no bridge URL (argument 2 or RO_TSP_BRIDGE)\n");
        return 2;
    }
    if (argc > 2) {
        /* the TSP reads RO_TSP_BRIDGE (CONTRACT.md): make it talk to the same bridge as our party control */
        static char envbuf[600];
        snprintf(envbuf, sizeof envbuf, "RO_TSP_BRIDGE=%s", url);
        _putenv(envbuf);                     /* the C runtime's copy ... */
        SetEnvironmentVariableA("RO_TSP_BRIDGE", url);   /* ... and the process environment */
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    InitializeCriticalSection(&g_cs);
    InitializeConditionVariable(&g_cv);
    g_main_tid = GetCurrentThreadId();
    ULONGLONG t0 = GetTickCount64();

    if (reconnect) {   /* no party control: the bridge is not there yet */
        HMODULE dll = LoadLibraryA(argv[1]);
        if (!check(dll != NULL, "LoadLibrary", "%s: error %lu", argv[1], dll ? 0ul : GetLastError())) return 2;
        if (!load_exports(dll)) return 2;
        scenario_reconnect();
        ENTER_TSPI(); LONG src = p_providerShutdown(g_ver, g_provider_id); LEAVE_TSPI();
        check(src == 0, "providerShutdown", "rc 0x%08lX", (unsigned long)src);
        EnterCriticalSection(&g_cs); g_provider_shut = 1; LeaveCriticalSection(&g_cs);
        Sleep(500);
        whole_run_checks();
        FreeLibrary(dll);
        printf("SUMMARY %d passed, %d failed in %.1f s\n", g_passed, g_failed,
               (double)(GetTickCount64() - t0) / 1000.0);
        return g_failed ? 1 : 0;
    }

    rpc_config rc = {0};
    rc.url = url;
    rc.token = getenv("RO_TSP_TOKEN");
    rc.call_timeout_ms = (PARTY_WAIT_S + 10) * 1000u;   /* party.wait_for waits up to PARTY_WAIT_S on the server */
    rc.connect_timeout_ms = 5000;
    g_rpc = rpc_start(&rc);
    if (!g_rpc || !rpc_connected(g_rpc)) {
        check(0, "bridge", "harness could not connect to %s (party control)", url);
        return 2;
    }
    check(1, "bridge", "party control connected to %s", url);
    parties_idle();

    HMODULE dll = LoadLibraryA(argv[1]);
    if (!check(dll != NULL, "LoadLibrary", "%s: error %lu", argv[1], dll ? 0ul : GetLastError())) return 2;
    if (!load_exports(dll)) { rpc_stop(g_rpc); return 2; }

    if (start_provider()) {
        enumerate_devices();
        if (g_desk_dev != 0xFFFFFFFF) {
            caps_checks();
            if (open_desk() && !g_out_of_service) {
                flow_make_call_and_blind_transfer();
                flow_consultation_transfer();
                flow_hold();
                flow_forwarding();
                flow_inbound();
                flow_newcall_refused();
                flow_redirect();
                flow_errors();
            }
        }
        shutdown_provider();
    }
    whole_run_checks();
    FreeLibrary(dll);
    rpc_stop(g_rpc);
    printf("SUMMARY %d passed, %d failed in %.1f s\n", g_passed, g_failed, (double)(GetTickCount64() - t0) / 1000.0);
    return g_failed ? 1 : 0;
}
