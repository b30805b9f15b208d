/* The TSP's core: state and handle tables, the bridge application, the pushed-message dispatcher and the one
   queue through which every TAPI callback is made (design: tsp/NOTES-tspi.md).

   Threads:
   * TAPI's threads call TSPI_* (tsp_line.c). They talk to the bridge with rpc_call (bounded: 2 s per round trip)
     and only ever *queue* callbacks - except TSPI_lineClose / TSPI_lineCloseCall, which must report the
     completion of the requests they cancel before returning (Microsoft: TSPI_lineCloseCall,
     https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_lineclosecall); they do so holding
     cb_lock, so even then no two callbacks run at once.
   * The rpc dispatch thread (rpc.c) delivers pushed `line_message` notifications (tsp/CONTRACT.md) to
     on_notify, which maps them to TSPI messages under g.cs and queues them.
   * The callback thread (cb_main) pops the queue and calls ASYNC_COMPLETION / LINEEVENT in queue order, holding
     cb_lock; it never holds g.cs during a callback, so TAPI may call TSPI_* from inside a callback. */
#include "tsp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tsp_state g;

void tsp_log(const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf, sizeof buf, "rotsp: ");
    vsnprintf(buf + n, sizeof buf - (size_t)n - 2, fmt, ap);
    va_end(ap);
    strcat(buf, "\n");
    OutputDebugStringA(buf);
    if (GetEnvironmentVariableA("RO_TSP_DEBUG", NULL, 0) > 0) { fputs(buf, stderr); fflush(stderr); }
}

static INIT_ONCE g_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK init_once(PINIT_ONCE o, PVOID p, PVOID *c)
{
    (void)o; (void)p; (void)c;
    InitializeCriticalSection(&g.cs);
    InitializeCriticalSection(&g.cb_lock);
    InitializeCriticalSection(&g.app_cs);
    InitializeConditionVariable(&g.cb_cv);
    g.deferred_tail = &g.deferred;
    g.cbq_tail = &g.cbq;
    g.seq_next = 1;
    g.cs_ready = 1;
    return TRUE;
}
void tsp_global_init(void) { InitOnceExecuteOnce(&g_once, init_once, NULL, NULL); }
void tsp_lock(void) { tsp_global_init(); EnterCriticalSection(&g.cs); }

/* Only the locks are set up here; threads and the bridge start in TSPI_providerEnumDevices / providerInit (never
   under the loader lock). */
BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) { DisableThreadLibraryCalls(inst); tsp_global_init(); }
    return TRUE;
}
void tsp_unlock(void) { LeaveCriticalSection(&g.cs); }

/* ---------- small helpers ---------- */

DWORD jdw(const cJSON *o, const char *key)
{
    const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(o, key) : o;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0)
        return (DWORD)(unsigned long long)v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? 1u : 0u;
    return 0;
}
const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

char *w2u(const WCHAR *w, size_t nchars)
{
    if (!w) return NULL;
    int in = nchars == (size_t)-1 ? -1 : (int)nchars;
    if (in == 0) { char *e = malloc(1); if (e) e[0] = 0; return e; }
    int n = WideCharToMultiByte(CP_UTF8, 0, w, in, NULL, 0, NULL, NULL);
    if (n <= 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    WideCharToMultiByte(CP_UTF8, 0, w, in, s, n, NULL, NULL);
    s[n] = 0;
    return s;
}
WCHAR *u2w(const char *u)
{
    if (!u) u = "";
    int n = MultiByteToWideChar(CP_UTF8, 0, u, -1, NULL, 0);
    if (n <= 0) n = 1;
    WCHAR *w = malloc((size_t)n * sizeof(WCHAR));
    if (!w) return NULL;
    if (MultiByteToWideChar(CP_UTF8, 0, u, -1, w, n) <= 0) w[0] = 0;
    return w;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
char *b64_encode(const BYTE *p, DWORD n)
{
    char *s = malloc(((size_t)n + 2) / 3 * 4 + 1), *o = s;
    if (!s) return NULL;
    for (DWORD i = 0; i < n; i += 3) {
        DWORD v = (DWORD)p[i] << 16 | (i + 1 < n ? (DWORD)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *o = 0;
    return s;
}
BYTE *b64_decode(const char *s, DWORD *n)
{
    size_t len = strlen(s);
    BYTE *out = malloc(len / 4 * 3 + 3), *o = out;
    DWORD acc = 0; int bits = 0;
    if (!out) { *n = 0; return NULL; }
    for (size_t i = 0; i < len; i++) {
        const char *q = strchr(B64, s[i]);
        if (s[i] == '=' || !q || !s[i]) continue;
        acc = acc << 6 | (DWORD)(q - B64);
        bits += 6;
        if (bits >= 8) { bits -= 8; *o++ = (BYTE)(acc >> bits); }
    }
    *n = (DWORD)(o - out);
    return out;
}

/* ---------- variable-size structures (docs/tapi.md §6.1) ----------
   The TSP fills every member but dwTotalSize (Microsoft: TSPI_lineGetDevCaps remarks,
   https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_linegetdevcaps). Variable parts follow
   the fixed part contiguously, each DWORD-aligned; what does not fit is left out (size and offset 0) but still
   counted in dwNeededSize. */
static DWORD align4(DWORD x) { return (x + 3u) & ~3u; }
void vf_begin(vfill *v, void *s, DWORD fixed)
{
    v->base = s;
    v->total = ((DWORD *)s)[0];
    memset(v->base + 4, 0, fixed - 4);
    v->needed = v->used = fixed;
}
void *vf_reserve(vfill *v, DWORD n, DWORD *offset)
{
    DWORD at = align4(v->used);
    v->needed = align4(v->needed) + n;
    if (n <= v->total && at <= v->total - n) {
        v->used = at + n;
        *offset = at;
        return v->base + at;
    }
    *offset = 0;
    return NULL;
}
void vf_bytes(vfill *v, DWORD *size_field, DWORD *offset_field, const BYTE *p, DWORD n)
{
    DWORD off;
    if (!n) return;
    BYTE *d = vf_reserve(v, n, &off);
    if (d) { memcpy(d, p, n); *size_field = n; *offset_field = off; }
}
void vf_wstr(vfill *v, DWORD *size_field, DWORD *offset_field, const char *utf8)
{
    if (!utf8 || !*utf8) return;
    WCHAR *w = u2w(utf8);
    if (!w) return;
    vf_bytes(v, size_field, offset_field, (const BYTE *)w, (DWORD)((wcslen(w) + 1) * sizeof(WCHAR)));
    free(w);
}
void vf_wmulti(vfill *v, DWORD *size_field, DWORD *offset_field, const char *const *items, int n)
{
    /* A list of NUL-terminated UTF-16 strings ending with an empty one (LINEDEVCAPS.DeviceClasses). */
    WCHAR buf[512]; size_t at = 0;
    for (int i = 0; i < n; i++) {
        WCHAR *w = u2w(items[i]);
        if (!w) return;
        size_t l = wcslen(w) + 1;
        if (at + l + 1 < sizeof buf / sizeof buf[0]) { memcpy(buf + at, w, l * sizeof(WCHAR)); at += l; }
        free(w);
    }
    buf[at++] = 0;
    vf_bytes(v, size_field, offset_field, (const BYTE *)buf, (DWORD)(at * sizeof(WCHAR)));
}
void vf_b64(vfill *v, DWORD *size_field, DWORD *offset_field, const char *b64)
{
    DWORD n = 0;
    if (!b64 || !*b64) return;
    BYTE *p = b64_decode(b64, &n);
    if (p) vf_bytes(v, size_field, offset_field, p, n);
    free(p);
}
void vf_end(vfill *v)
{
    ((DWORD *)v->base)[1] = v->needed;
    ((DWORD *)v->base)[2] = v->used;
}

/* ---------- handle tables ----------
   hdLine / hdCall are pointers to our structs, but every use first looks the pointer up in these tables (no
   dereference before), so a stale or forged handle gives LINEERR_INVALLINEHANDLE / INVALCALLHANDLE. */
tsp_line *tsp_line_valid(HDRVLINE h)
{
    for (DWORD i = 0; i < g.nlines; i++)
        if ((const void *)g.lines[i] == (const void *)h) return g.lines[i];
    return NULL;
}
static tsp_line *line_by_seq(DWORD seq)
{
    for (DWORD i = 0; i < g.nlines; i++)
        if (g.lines[i]->seq == seq) return g.lines[i];
    return NULL;
}
static tsp_line *line_by_bridge(DWORD h)
{
    if (!h) return NULL;
    for (DWORD i = 0; i < g.nlines; i++)
        if (g.lines[i]->bridge_hline == h) return g.lines[i];
    return NULL;
}
tsp_call *tsp_call_valid(HDRVCALL h)
{
    for (DWORD i = 0; i < g.ncalls; i++)
        if ((const void *)g.calls[i] == (const void *)h) return g.calls[i]->tapi_valid ? g.calls[i] : NULL;
    return NULL;
}
static tsp_call *call_registered(tsp_call *c, DWORD seq)
{
    for (DWORD i = 0; i < g.ncalls; i++)
        if (g.calls[i] == c) return c->seq == seq ? c : NULL;
    return NULL;
}
static tsp_call *call_by_bridge(DWORD h)
{
    if (!h) return NULL;
    for (DWORD i = 0; i < g.ncalls; i++)
        if (g.calls[i]->bridge_hcall == h) return g.calls[i];
    return NULL;
}
static int grow(void ***arr, DWORD *cap, DWORD n)
{
    if (n < *cap) return 1;
    DWORD nc = *cap ? *cap * 2 : 16;
    void **p = realloc(*arr, nc * sizeof(void *));
    if (!p) return 0;
    *arr = p; *cap = nc;
    return 1;
}
/* Freed lines and calls are kept a while before their memory is released, so the address of a closed handle is not
   soon reused by a new object: a stale hdLine / hdCall from TAPI stays invalid instead of naming someone else. */
#define RETIRED_MAX 1024
static void *g_retired[RETIRED_MAX];
static DWORD g_retired_next;
static void retire(void *p)
{
    DWORD i = g_retired_next++ % RETIRED_MAX;
    free(g_retired[i]);
    g_retired[i] = p;
}

tsp_line *tsp_line_new(void)
{
    tsp_line *l = calloc(1, sizeof *l);
    if (!l || !grow((void ***)&g.lines, &g.caplines, g.nlines)) { free(l); return NULL; }
    l->seq = g.seq_next++;
    g.lines[g.nlines++] = l;
    return l;
}
void tsp_line_free(tsp_line *l)
{
    for (DWORD i = 0; i < g.nlines; i++)
        if (g.lines[i] == l) { g.lines[i] = g.lines[--g.nlines]; break; }
    for (DWORD i = 0; i < g.ncalls; i++)
        if (g.calls[i]->line == l) g.calls[i]->line = NULL;
    retire(l);
}
tsp_call *tsp_call_new(tsp_line *line)
{
    tsp_call *c = calloc(1, sizeof *c);
    if (!c || !grow((void ***)&g.calls, &g.capcalls, g.ncalls)) { free(c); return NULL; }
    c->seq = g.seq_next++;
    c->line = line;
    c->line_seq = line ? line->seq : 0;
    c->media_mode = LINEMEDIAMODE_INTERACTIVEVOICE;
    c->tapi_valid = 1;
    g.calls[g.ncalls++] = c;
    return c;
}
void tsp_call_free(tsp_call *c)
{
    for (DWORD i = 0; i < g.ncalls; i++)
        if (g.calls[i] == c) { g.calls[i] = g.calls[--g.ncalls]; break; }
    for (tsp_pend *p = g.pend; p; p = p->next) {
        if (p->owner == c) p->owner = NULL;
        if (p->target == c) p->target = NULL;
    }
    retire(c);
}
int tsp_dev_index(DWORD tapi_id, DWORD *index)
{
    for (DWORD i = 0; i < g.ndevs; i++)
        if (g.devs[i].has_tapi_id && g.devs[i].tapi_id == tapi_id && !g.devs[i].removed) { *index = i; return 1; }
    return 0;
}

/* ---------- the callback queue ---------- */

void tsp_cb_push(tsp_cb *item)
{
    item->next = NULL;
    *g.cbq_tail = item;
    g.cbq_tail = &item->next;
    WakeConditionVariable(&g.cb_cv);
}
void tsp_push_event(tsp_line *l, tsp_call *c, DWORD msg, DWORD_PTR p1, DWORD_PTR p2, DWORD_PTR p3)
{
    tsp_cb *it = calloc(1, sizeof *it);
    if (!it) return;
    it->kind = CB_EVENT;
    it->line = l; it->line_seq = l ? l->seq : 0;
    it->call = c; it->call_seq = c ? c->seq : 0;
    it->msg = msg; it->p1 = p1; it->p2 = p2; it->p3 = p3;
    tsp_cb_push(it);
}
static void push_simple(int kind, tsp_call *c, DWORD hcall)
{
    tsp_cb *it = calloc(1, sizeof *it);
    if (!it) return;
    it->kind = kind;
    it->call = c; it->call_seq = c ? c->seq : 0;
    it->line = c ? c->line : NULL; it->line_seq = c ? c->line_seq : 0;
    it->hcall = hcall;
    tsp_cb_push(it);
}
void tsp_push_completion(DRV_REQUESTID req, LONG result)
{
    tsp_cb *it = calloc(1, sizeof *it);
    if (!it) return;
    it->kind = CB_COMPLETION; it->req = req; it->result = result;
    tsp_cb_push(it);
}

void tsp_complete_inline(DRV_REQUESTID req, LONG result)
{
    if (g.completion) g.completion(req, result);
}

/* Bridge housekeeping for a call TAPI no longer knows: lineDeallocateCall on the bridge, then free our record
   unless TAPI took the call back meanwhile (bounded: one round trip). */
static void bridge_deallocate(const tsp_cb *it)
{
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_call", it->hcall);
    tsp_call_sync("line_deallocate_call", p, &r);
    cJSON_Delete(r);
    tsp_lock();
    tsp_call *c = call_registered(it->call, it->call_seq);
    if (c && !c->tapi_valid) tsp_call_free(c);
    tsp_unlock();
}

static void deliver(tsp_cb *it)
{
    switch (it->kind) {
    case CB_COMPLETION:
        EnterCriticalSection(&g.cb_lock);
        if (g.completion) g.completion(it->req, it->result);
        LeaveCriticalSection(&g.cb_lock);
        break;
    case CB_CREATE:
        EnterCriticalSection(&g.cb_lock);
        /* LINE_CREATE: dwParam1 = hProvider, dwParam2 = our temporary id (Microsoft: LINE_CREATE (TSPI),
           https://learn.microsoft.com/en-us/previous-versions/windows/desktop/legacy/ms725223(v=vs.85)). */
        if (g.create_proc) g.create_proc(NULL, NULL, LINE_CREATE, (DWORD_PTR)g.hProvider, it->p1, 0);
        LeaveCriticalSection(&g.cb_lock);
        break;
    case CB_REMOVE:
        EnterCriticalSection(&g.cb_lock);
        if (g.create_proc) g.create_proc(NULL, NULL, LINE_REMOVE, it->p1, 0, 0);
        LeaveCriticalSection(&g.cb_lock);
        break;
    case CB_EVENT: {
        EnterCriticalSection(&g.cb_lock);
        tsp_lock();
        tsp_line *l = line_by_seq(it->line_seq);
        tsp_call *c = it->call ? call_registered(it->call, it->call_seq) : NULL;
        int ok = l && l == it->line && l->proc && (!it->call || (c && c->tapi_valid && c->reported && c->htCall));
        LINEEVENT proc = ok ? l->proc : NULL;
        HTAPILINE htl = ok ? l->htLine : NULL;
        HTAPICALL htc = ok && c ? c->htCall : NULL;
        tsp_unlock();
        if (ok) proc(htl, htc, it->msg, it->p1, it->p2, it->p3);
        LeaveCriticalSection(&g.cb_lock);
        break;
    }
    case CB_NEWCALL: {
        EnterCriticalSection(&g.cb_lock);
        tsp_lock();
        tsp_line *l = line_by_seq(it->line_seq);
        tsp_call *c = call_registered(it->call, it->call_seq);
        int ok = l && c && c->tapi_valid && !c->reported && l->proc;
        LINEEVENT proc = ok ? l->proc : NULL;
        HTAPILINE htl = ok ? l->htLine : NULL;
        tsp_unlock();
        HTAPICALL ht = NULL;
        /* LINE_NEWCALL: dwParam1 = our hdCall, dwParam2 = where TAPI writes its htCall (NULL = refused)
           (Microsoft: https://learn.microsoft.com/en-us/windows/win32/tapi/line-newcall). */
        if (ok) proc(htl, NULL, LINE_NEWCALL, (DWORD_PTR)c, (DWORD_PTR)&ht, 0);
        tsp_lock();
        c = call_registered(it->call, it->call_seq);
        if (c && !c->reported) {
            if (ok && ht) { c->htCall = ht; c->reported = 1; }
            else {
                /* Refused by TAPI (htCall NULL), or its line closed before TAPI could be told: nobody will ever
                   close it, so drop it on the bridge (deallocated at IDLE) and report nothing more about it. */
                tsp_log("new call 0x%08lX %s: dropped on the bridge", c->bridge_hcall,
                        ok ? "refused by TAPI (htCall NULL)" : "not reported (its line is gone)");
                c->tapi_valid = 0;
                if (c->bridge_live && !c->drop_sent) { c->drop_sent = 1; push_simple(CB_BRIDGE_DROP, c, c->bridge_hcall); }
                else if (!c->bridge_live) tsp_call_free(c);
            }
        }
        tsp_unlock();
        LeaveCriticalSection(&g.cb_lock);
        break;
    }
    case CB_BRIDGE_DROP: {
        /* Not a TAPI callback: bridge housekeeping for a call TAPI no longer knows (bounded: one round trip). */
        cJSON *p = cJSON_CreateObject(), *r = NULL;
        cJSON_AddNumberToObject(p, "h_call", it->hcall);
        LONG rc = tsp_call_sync("line_drop", p, &r);
        cJSON_Delete(r);
        if (rc < 0) bridge_deallocate(it);     /* not droppable (monitor, already idle): deallocate now */
        break;
    }
    case CB_BRIDGE_DEALLOC:
        bridge_deallocate(it);
        break;
    default: break;
    }
}

static void drain_deferred(void);

static DWORD WINAPI cb_main(LPVOID arg)
{
    (void)arg;
    tsp_lock();
    for (;;) {
        while (!g.cbq && !g.cb_stop) {
            /* Wake twice a second while messages are parked, so one parked for an unknown call is released after
               its 3 s even when nothing else arrives. */
            SleepConditionVariableCS(&g.cb_cv, &g.cs, g.deferred ? 500 : INFINITE);
            if (g.deferred) drain_deferred();
        }
        if (!g.cbq && g.cb_stop) break;
        tsp_cb *it = g.cbq;
        g.cbq = it->next;
        if (!g.cbq) g.cbq_tail = &g.cbq;
        tsp_unlock();
        deliver(it);
        free(it);
        tsp_lock();
    }
    tsp_unlock();
    return 0;
}
void tsp_cb_start(void)
{
    tsp_lock();
    g.cb_stop = 0;
    if (!g.cb_thread) g.cb_thread = CreateThread(NULL, 0, cb_main, NULL, 0, &g.cb_thread_id);
    tsp_unlock();
}
void tsp_cb_stop(void)
{
    tsp_lock();
    HANDLE t = g.cb_thread;
    g.cb_stop = 1;
    WakeConditionVariable(&g.cb_cv);
    tsp_unlock();
    if (t) {
        /* Bounded: what is left in the queue is delivered (each bridge housekeeping item <= 2 s). */
        if (GetCurrentThreadId() != g.cb_thread_id) WaitForSingleObject(t, 10000);
        CloseHandle(t);
    }
    tsp_lock();
    g.cb_thread = NULL;
    tsp_cb_clear();
    tsp_unlock();
}
void tsp_cb_clear(void)
{
    while (g.cbq) { tsp_cb *n = g.cbq->next; free(g.cbq); g.cbq = n; }
    g.cbq_tail = &g.cbq;
}

/* ---------- the bridge ---------- */

LONG tsp_rpc_error(int rc, const rpc_error *err)
{
    if (rc == RPC_EREMOTE && err->code == -32000 && err->lineerr) return (LONG)err->lineerr;
    if (rc == RPC_EREMOTE && err->code == -32005) return LINEERR_RESOURCEUNAVAIL; /* a bridge limit */
    if (rc == RPC_EREMOTE && err->code == -32602) return LINEERR_INVALPARAM;       /* e.g. a 5000-digit number */
    if (rc == RPC_EDOWN) return LINEERR_RESOURCEUNAVAIL;  /* reconnecting: may work later */
    return LINEERR_OPERATIONFAILED;                        /* timeout, protocol error */
}

LONG tsp_call_sync(const char *method, cJSON *params, cJSON **result)
{
    rpc_error err;
    memset(&err, 0, sizeof err);
    *result = NULL;
    tsp_lock();
    rpc_client *client = g.rpc;
    tsp_unlock();
    if (!client) { cJSON_Delete(params); return LINEERR_RESOURCEUNAVAIL; }
    int rc = rpc_call(client, method, params, result, &err);
    if (rc == RPC_OK) return 0;
    tsp_log("%s failed: rpc %d, code %d, lineerr 0x%08lX: %s", method, rc, err.code, err.lineerr, err.message);
    return tsp_rpc_error(rc, &err);
}

static void drain_deferred(void);

/* Sends an asynchronous TAPI request to the bridge. The bridge answers with its request id; its LINE_REPLY is
   pushed later (or already, on the dispatch thread, before this thread registered the id: while g.inflight > 0
   the dispatcher parks every pushed message, see on_notify). Bound: one round trip (rpc call timeout, 2 s). */
LONG tsp_call_async(DRV_REQUESTID req, const char *method, cJSON *params, tsp_line *line, tsp_call *owner,
                    tsp_call *target, void *buf, DWORD buf_size)
{
    cJSON *res = NULL;
    tsp_lock();
    g.inflight++;
    tsp_unlock();
    LONG rc = tsp_call_sync(method, params, &res);
    tsp_lock();
    if (rc == 0 && line && line_by_seq(line->seq) != line) {
        /* TSPI_lineClose ran meanwhile: the bridge's line_close cancels the request (no LINE_REPLY will come,
           docs/tapi.md §2.6), yet TAPI was told "accepted" - so complete it here, once. */
        tsp_push_completion(req, LINEERR_OPERATIONFAILED);
    } else if (rc == 0) {
        double id = cJSON_IsNumber(res) ? res->valuedouble : -1;
        if (id > 0 && id <= 2147483647.0) {
            tsp_pend *p = calloc(1, sizeof *p);
            if (p) {
                p->bridge_req = (DWORD)id;
                p->tapi_req = req;
                p->line_seq = line ? line->seq : 0;
                p->owner = owner; p->target = target;
                p->buf = buf; p->buf_size = buf_size;
                p->next = g.pend; g.pend = p;
            } else rc = LINEERR_NOMEM;
        } else {
            tsp_log("%s: the bridge returned no request id", method);
            rc = LINEERR_OPERATIONFAILED;
        }
    }
    g.inflight--;
    drain_deferred();
    tsp_unlock();
    cJSON_Delete(res);
    return rc == 0 ? (LONG)req : rc;
}

/* ---------- pushed messages -> TSPI messages ---------- */

static int create_pending(void)
{
    for (tsp_pend *p = g.pend; p; p = p->next)
        if (p->target) return 1;
    return 0;
}

static tsp_call *new_incoming(DWORD hcall, tsp_line *l, DWORD address_id)
{
    tsp_call *c = tsp_call_new(l);
    if (!c) return NULL;
    c->bridge_hcall = hcall;
    c->bridge_live = 1;
    c->address_id = address_id;
    push_simple(CB_NEWCALL, c, hcall);
    return c;
}

enum { MSG_DONE = 0, MSG_DEFER = 1 };

/* Under g.cs. Returns MSG_DEFER to keep the message for later. */
static int process_msg(const cJSON *m, int stale)
{
    DWORD msg = jdw(m, "msg"), dev = jdw(m, "device"), inst = jdw(m, "instance");
    DWORD p1 = jdw(m, "param1"), p2 = jdw(m, "param2"), p3 = jdw(m, "param3");
    switch (msg) {
    case LINE_REPLY: {
        tsp_pend **pp = &g.pend, *p;
        while ((p = *pp) && p->bridge_req != p1) pp = &p->next;
        if (!p) { tsp_log("LINE_REPLY for unknown bridge request %lu ignored", p1); return MSG_DONE; }
        *pp = p->next;
        LONG result = (LONG)p2;
        DWORD nc = jdw(m, "new_call");
        tsp_call *t = p->target;
        if (t && result == 0 && nc) {
            t->bridge_hcall = nc;
            t->bridge_live = 1;
            if (!t->tapi_valid && !t->drop_sent) {
                /* TAPI closed the call while the request was pending: clean up on the bridge. */
                t->drop_sent = 1;
                push_simple(CB_BRIDGE_DROP, t, nc);
            }
        } else if (t && !t->tapi_valid) tsp_call_free(t); /* failed, and TAPI already closed it */
        if (p->done) { free(p); return MSG_DONE; }
        if (p->buf && result == 0) {
            DWORD n = 0;
            BYTE *d = b64_decode(jstr(m, "data"), &n);
            DWORD k = n < p->buf_size ? n : p->buf_size;
            /* Written only where it changed: TAPI's buffer is in/out, but an unchanged reply needs no write. */
            if (d && k && memcmp(p->buf, d, k) != 0) memcpy(p->buf, d, k);
            free(d);
        }
        tsp_push_completion(p->tapi_req, result);
        free(p);
        return MSG_DONE;
    }
    case LINE_APPNEWCALL: {
        tsp_line *l = line_by_bridge(dev);
        if (!l) l = line_by_seq(inst);
        if (!l || call_by_bridge(p2)) return MSG_DONE;
        new_incoming(p2, l, p1);
        return MSG_DONE;
    }
    case LINE_CALLSTATE: {
        tsp_call *c = call_by_bridge(dev);
        if (!c) {
            if (create_pending() && !stale) return MSG_DEFER; /* may be the new call of a request not yet replied */
            tsp_line *l = line_by_seq(inst);
            if (!l || !l->bridge_hline) return MSG_DONE;
            c = new_incoming(dev, l, 0);
            if (!c) return MSG_DONE;
        }
        c->state = p1; c->state_mode = p2;
        GetSystemTime(&c->state_time);
        if (!c->tapi_valid) {
            /* A call TAPI gave up: deallocate it on the bridge once idle, report nothing. */
            if (p1 == LINECALLSTATE_IDLE && c->bridge_live) { c->bridge_live = 0; push_simple(CB_BRIDGE_DEALLOC, c, dev); }
            return MSG_DONE;
        }
        /* At TSPI level dwParam3 of LINE_CALLSTATE is the call's media mode
           (Microsoft: https://learn.microsoft.com/en-us/windows/win32/tapi/line-callstate--tspi-). */
        if (c->line) tsp_push_event(c->line, c, LINE_CALLSTATE, p1, p2, c->media_mode);
        return MSG_DONE;
    }
    case LINE_CALLINFO: {
        tsp_call *c = call_by_bridge(dev);
        if (!c) return create_pending() && !stale ? MSG_DEFER : MSG_DONE;
        if (c->tapi_valid && c->line) tsp_push_event(c->line, c, LINE_CALLINFO, p1, 0, 0);
        return MSG_DONE;
    }
    case LINE_ADDRESSSTATE: case LINE_LINEDEVSTATE: case LINE_DEVSPECIFIC: {
        tsp_line *l = line_by_bridge(dev);
        if (!l && msg == LINE_DEVSPECIFIC) {
            /* On a call, TSPI says LINE_CALLDEVSPECIFIC (TAPI turns it into LINE_DEVSPECIFIC for applications;
               Microsoft: https://learn.microsoft.com/en-us/windows/win32/tapi/line-calldevspecific). */
            tsp_call *c = call_by_bridge(dev);
            if (c && c->tapi_valid && c->line) tsp_push_event(c->line, c, LINE_CALLDEVSPECIFIC, p1, p2, p3);
            return MSG_DONE;
        }
        if (l) tsp_push_event(l, NULL, msg, p1, p2, msg == LINE_ADDRESSSTATE ? 0 : p3);
        return MSG_DONE;
    }
    case LINE_CLOSE: {
        tsp_line *l = line_by_bridge(dev);
        if (!l) return MSG_DONE;
        l->bridge_hline = 0;
        for (DWORD i = 0; i < g.ncalls; i++)
            if (g.calls[i]->line == l) g.calls[i]->bridge_live = 0; /* the bridge invalidated them */
        /* Its pending requests were cancelled with it: no LINE_REPLY will come for them. */
        for (tsp_pend **pp = &g.pend, *p; (p = *pp);) {
            if (p->line_seq == l->seq) {
                *pp = p->next;
                if (!p->done) tsp_push_completion(p->tapi_req, LINEERR_OPERATIONFAILED);
                free(p);
            } else pp = &p->next;
        }
        tsp_push_event(l, NULL, LINE_CLOSE, 0, 0, 0);
        return MSG_DONE;
    }
    case LINE_CREATE: {
        if (p1 < TSP_MAX_DEVS && p1 >= g.ndevs && g.enumerated) {
            for (DWORD i = g.ndevs; i <= p1; i++) {
                memset(&g.devs[i], 0, sizeof g.devs[i]);
                tsp_cb *it = calloc(1, sizeof *it);
                if (it) { it->kind = CB_CREATE; it->p1 = i; tsp_cb_push(it); }
            }
            g.ndevs = p1 + 1;
        }
        return MSG_DONE;
    }
    case LINE_REMOVE:
        /* TSPI LINE_REMOVE: dwParam1 = TAPI's device id; TAPI then closes the line and its calls itself
           (Microsoft: https://learn.microsoft.com/en-us/previous-versions/windows/desktop/legacy/ms725237(v=vs.85)). */
        if (p1 < g.ndevs && !g.devs[p1].removed) {
            g.devs[p1].removed = 1;
            if (g.devs[p1].has_tapi_id) {
                tsp_cb *it = calloc(1, sizeof *it);
                if (it) { it->kind = CB_REMOVE; it->p1 = g.devs[p1].tapi_id; tsp_cb_push(it); }
            }
        }
        return MSG_DONE;
    default:
        return MSG_DONE;
    }
}

/* Under g.cs: processes parked messages in order, as far as possible. A message for an unknown call waits while a
   call-creating request is pending (its LINE_REPLY names the call), at most 3 s. */
static void drain_deferred(void)
{
    int progress = 1;
    while (progress && g.inflight == 0) {
        progress = 0;
        tsp_deferred **dp = &g.deferred, *d;
        while ((d = *dp) && g.inflight == 0) {
            int stale = GetTickCount64() - d->since > 3000;
            int is_reply = jdw(d->msg, "msg") == LINE_REPLY;
            if (process_msg(d->msg, stale) == MSG_DONE) {
                *dp = d->next;
                cJSON_Delete(d->msg);
                free(d);
                progress = 1;
                if (is_reply) break; /* a reply may resolve earlier parked messages: start over */
            } else dp = &d->next;
        }
        g.deferred_tail = &g.deferred;
        while (*g.deferred_tail) g.deferred_tail = &(*g.deferred_tail)->next;
    }
}

void tsp_drain(void)
{
    tsp_lock();
    drain_deferred();
    tsp_unlock();
}

static void on_notify(void *ctx, const char *method, const cJSON *params)
{
    (void)ctx;
    if (!method || strcmp(method, "line_message") != 0 || !params) return;
    tsp_lock();
    if (!g.app_valid || jdw(params, "h_line_app") != g.app) { tsp_unlock(); return; }
    tsp_deferred *d = calloc(1, sizeof *d);
    if (d) {
        d->msg = cJSON_Duplicate(params, 1);
        d->since = GetTickCount64();
        if (d->msg) { *g.deferred_tail = d; g.deferred_tail = &d->next; }
        else free(d);
    }
    drain_deferred();
    if (g.deferred) WakeConditionVariable(&g.cb_cv); /* the callback thread re-checks parked messages every 0.5 s */
    tsp_unlock();
}

/* Connection lost: every open line gets LINE_CLOSE, every pending request completes with OPERATIONFAILED (its
   LINE_REPLY can no longer come), call handles lose their bridge side. Under g.cs. */
static void connection_lost(void)
{
    g.app_valid = 0;
    for (DWORD i = 0; i < g.nlines; i++) {
        tsp_line *l = g.lines[i];
        if (l->bridge_hline) { l->bridge_hline = 0; tsp_push_event(l, NULL, LINE_CLOSE, 0, 0, 0); }
    }
    while (g.pend) {
        tsp_pend *p = g.pend;
        g.pend = p->next;
        if (!p->done) tsp_push_completion(p->tapi_req, LINEERR_OPERATIONFAILED); /* done: already completed by lineCloseCall */
        free(p);
    }
    for (DWORD i = 0; i < g.ncalls; i++) { g.calls[i]->bridge_live = 0; g.calls[i]->bridge_hcall = 0; }
    for (DWORD i = 0; i < g.ncalls;) {
        if (!g.calls[i]->tapi_valid) tsp_call_free(g.calls[i]); else i++;
    }
    while (g.deferred) { tsp_deferred *d = g.deferred; g.deferred = d->next; cJSON_Delete(d->msg); free(d); }
    g.deferred_tail = &g.deferred;
}

/* (Re)creates the bridge application "rotsp" and subscribes to its messages. Bound: 2 round trips. */
int tsp_ensure_app(void)
{
    int ok = 0;
    EnterCriticalSection(&g.app_cs);
    tsp_lock();
    ok = g.app_valid;
    tsp_unlock();
    tsp_lock();
    rpc_client *client = g.rpc;
    tsp_unlock();
    if (!ok && client && rpc_connected(client)) {
        cJSON *p = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(p, "app_name", "rotsp");
        cJSON_AddNumberToObject(p, "api_version", TSP_BRIDGE_API);
        if (tsp_call_sync("line_initialize_ex", p, &r) == 0) {
            DWORD app = jdw(r, "h_line_app"), n = jdw(r, "num_devs");
            cJSON_Delete(r); r = NULL;
            tsp_lock();
            g.app = app; g.app_valid = 1; /* set before subscribing: pushed messages may follow the reply */
            tsp_unlock();
            cJSON *s = cJSON_CreateObject();
            cJSON_AddNumberToObject(s, "h_line_app", app);
            if (tsp_call_sync("line_subscribe", s, &r) == 0) {
                ok = 1;
                tsp_lock();
                if (n > TSP_MAX_DEVS) n = TSP_MAX_DEVS;
                if (!g.enumerated) g.ndevs = n;
                else if (n > g.ndevs) {
                    /* Devices the bridge has now and TAPI does not: LINE_CREATE each. */
                    for (DWORD i = g.ndevs; i < n; i++) {
                        memset(&g.devs[i], 0, sizeof g.devs[i]);
                        tsp_cb *it = calloc(1, sizeof *it);
                        if (it) { it->kind = CB_CREATE; it->p1 = i; tsp_cb_push(it); }
                    }
                    g.ndevs = n;
                }
                tsp_unlock();
            } else {
                tsp_log("line_subscribe refused: is the bridge a wall-clock server with push events "
                        "(ro-conformance serve --clock wall)?");
                tsp_lock(); g.app_valid = 0; tsp_unlock();
                cJSON *q = cJSON_CreateObject(), *rr = NULL;
                cJSON_AddNumberToObject(q, "h_line_app", app);
                tsp_call_sync("line_shutdown", q, &rr); /* do not leave an unused application on the bridge */
                cJSON_Delete(rr);
            }
        }
        cJSON_Delete(r);
    }
    LeaveCriticalSection(&g.app_cs);
    return ok;
}

static void on_state(void *ctx, int connected)
{
    (void)ctx;
    if (connected) tsp_ensure_app();
    else {
        EnterCriticalSection(&g.app_cs);
        tsp_lock();
        connection_lost();
        tsp_unlock();
        LeaveCriticalSection(&g.app_cs);
    }
}

int tsp_bridge_start(void)
{
    if (!g.rpc) {
        tsp_config_load();
        rpc_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.url = g.url;
        cfg.token = g.token;
        cfg.call_timeout_ms = 2000;
        cfg.connect_timeout_ms = 2000;
        cfg.on_notify = on_notify;
        cfg.on_state = on_state;
        rpc_client *client = rpc_start(&cfg);
        if (!client) return 0;
        tsp_lock();
        g.rpc = client;
        tsp_unlock();
    }
    return tsp_ensure_app();
}

void tsp_bridge_stop(void)
{
    rpc_client *r = g.rpc;
    if (!r) return;
    tsp_lock();
    DWORD app = g.app; int valid = g.app_valid;
    tsp_unlock();
    if (valid) {
        cJSON *p = cJSON_CreateObject(), *res = NULL;
        cJSON_AddNumberToObject(p, "h_line_app", app);
        tsp_call_sync("line_shutdown", p, &res);
        cJSON_Delete(res);
    }
    /* No rpc_call may start after rpc_stop (NOTES-transport.md): the pointer goes first, under the lock. */
    tsp_lock();
    g.rpc = NULL;
    g.app_valid = 0;
    tsp_unlock();
    rpc_stop(r);
}

void tsp_config_load(void)
{
    char url[512] = "", tok[512] = "";
    tsp_registry_read(url, sizeof url, tok, sizeof tok);
    DWORD n = GetEnvironmentVariableA("RO_TSP_BRIDGE", g.url, sizeof g.url);
    if (n == 0 || n >= sizeof g.url) {
        if (url[0]) strcpy(g.url, url);
        else strcpy(g.url, "ws://127.0.0.1:7755/");
    }
    n = GetEnvironmentVariableA("RO_TSP_TOKEN", g.token, sizeof g.token);
    if (n == 0 || n >= sizeof g.token) strcpy(g.token, tok);
}
