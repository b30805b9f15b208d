/* Internal state of the ro-conformance TAPI service provider (issue 16; tsp/CONTRACT.md).
   Shared by tsp_core.c (state, bridge glue, event dispatch, callback queue), tsp_line.c (the TSPI_* entry points)
   and tsp_ui.c (TUISPI_* and the configuration). Design notes: tsp/NOTES-tspi.md. */
#ifndef ROTSP_TSP_INTERNAL_H
#define ROTSP_TSP_INTERNAL_H

#include <windows.h>
#include <tspi.h>
#include "cJSON.h"
#include "rpc.h"

/* TSPI versions we speak: 2.0 .. 3.0 (docs/tapi.md §1.1). 3.1 is left out on purpose: it changes LINEFORWARD to
   32 bytes (docs/tapi.md §6.3) and adds nothing the bridge can serve. */
#define TSP_VERSION_LOW  0x00020000u
#define TSP_VERSION_HIGH 0x00030000u
/* The bridge's simulator negotiates up to 2.2 (docs/tapi.md §1.1): anything newer is asked as 2.2. */
#define TSP_BRIDGE_API   0x00020002u

#define TSP_MAX_DEVS 256

typedef struct tsp_line tsp_line;
typedef struct tsp_call tsp_call;

typedef struct {
    DWORD tapi_id;       /* TAPI's device id (dwLineDeviceIDBase + index, or given by providerCreateLineDevice) */
    int has_tapi_id;
    int removed;         /* LINE_REMOVE from the bridge */
    DWORD ext_version;   /* last TSPI_lineNegotiateExtVersion result: the bridge line is opened with it */
} tsp_dev;

struct tsp_line {
    DWORD seq;           /* unique id: the bridge callback_instance and the stale-queue-item check */
    DWORD dev;           /* index = bridge device id */
    HTAPILINE htLine;
    LINEEVENT proc;
    DWORD version;       /* negotiated TSPI version */
    DWORD ext_version;   /* extension version the bridge line was opened with */
    DWORD bridge_hline;  /* 0 once the bridge closed it (connection lost, LINE_CLOSE) */
    DWORD num_addresses;
    DWORD media_detect;  /* TSPI_lineSetDefaultMediaDetection */
    DWORD line_states, address_states; /* TSPI_lineSetStatusMessages */
};

struct tsp_call {
    DWORD seq;
    tsp_line *line;      /* NULL once the line is gone */
    DWORD line_seq;
    HTAPICALL htCall;    /* NULL until TAPI gave one (made by TAPI, or LINE_NEWCALL accepted) */
    int tapi_valid;      /* hdCall usable by TAPI (not closed, not refused at LINE_NEWCALL) */
    int reported;        /* TAPI knows the call: events may be sent */
    DWORD bridge_hcall;  /* 0 while a call-creating request is pending, or after it failed / the bridge is gone */
    int bridge_live;     /* the bridge handle must still be deallocated */
    int drop_sent;       /* zombie: dropped on the bridge, deallocated at IDLE */
    DWORD address_id;
    DWORD media_mode;
    DWORD state, state_mode;
    SYSTEMTIME state_time;
};

enum { PEND_PLAIN = 0, PEND_CREATE = 1, PEND_DEVSPECIFIC = 2 };
typedef struct tsp_pend {
    struct tsp_pend *next;
    DWORD bridge_req;
    DRV_REQUESTID tapi_req;
    DWORD line_seq;      /* line the request belongs to (0 = none) */
    tsp_call *owner;     /* the call the request acts on, or NULL */
    tsp_call *target;    /* call-creating request: the call whose hdCall TAPI already has */
    int done;            /* already completed (TSPI_lineCloseCall): the reply only cleans up */
    void *buf; DWORD buf_size; /* lineDevSpecific: written back at the reply (docs/tapi.md §0.6) */
} tsp_pend;

enum { CB_COMPLETION = 1, CB_EVENT, CB_NEWCALL, CB_CREATE, CB_REMOVE, CB_BRIDGE_DROP, CB_BRIDGE_DEALLOC };
typedef struct tsp_cb {
    struct tsp_cb *next;
    int kind;
    tsp_line *line; DWORD line_seq;
    tsp_call *call; DWORD call_seq;
    DWORD msg; DWORD_PTR p1, p2, p3;
    DRV_REQUESTID req; LONG result;
    DWORD hcall;         /* CB_BRIDGE_* */
} tsp_cb;

typedef struct tsp_deferred {
    struct tsp_deferred *next;
    cJSON *msg;
    ULONGLONG since;
} tsp_deferred;

typedef struct {
    CRITICAL_SECTION cs;      /* the state below; never held across a network round trip or a TAPI callback */
    CRITICAL_SECTION cb_lock; /* held while a TAPI callback runs: callbacks are never concurrent */
    CRITICAL_SECTION app_cs;  /* serialises the bridge application's (re)initialisation */
    CONDITION_VARIABLE cb_cv;
    int cs_ready;

    rpc_client *rpc;
    char url[512], token[512];
    DWORD app;                /* bridge h_line_app, valid when app_valid */
    int app_valid;
    DWORD seq_next;

    DWORD provider_id;
    HPROVIDER hProvider;
    LINEEVENT create_proc;    /* given in providerEnumDevices */
    ASYNC_COMPLETION completion;
    DWORD line_base;
    int enumerated, inited;
    DWORD num_enum;           /* line count reported by providerEnumDevices */

    tsp_dev devs[TSP_MAX_DEVS];
    DWORD ndevs;

    tsp_line **lines; DWORD nlines, caplines;
    tsp_call **calls; DWORD ncalls, capcalls;
    tsp_pend *pend;
    LONG inflight;            /* bridge requests sent whose result is not yet registered */
    tsp_deferred *deferred, **deferred_tail;

    tsp_cb *cbq, **cbq_tail;
    HANDLE cb_thread;
    DWORD cb_thread_id;
    int cb_stop;
} tsp_state;

extern tsp_state g;

/* tsp_core.c */
void tsp_lock(void);
void tsp_unlock(void);
void tsp_global_init(void);
void tsp_config_load(void);                 /* g.url / g.token from environment, else registry, else default */
int tsp_bridge_start(void);                 /* rpc_start + application; 1 when the bridge answered */
void tsp_bridge_stop(void);
int tsp_ensure_app(void);
void tsp_cb_start(void);
void tsp_cb_stop(void);
void tsp_cb_clear(void);
void tsp_push_completion(DRV_REQUESTID req, LONG result); /* under g.cs */                    /* under g.cs: forget queued callbacks */
void tsp_drain(void);                        /* processes parked pushed messages (takes g.cs) */
void tsp_cb_push(tsp_cb *item);
void tsp_push_event(tsp_line *l, tsp_call *c, DWORD msg, DWORD_PTR p1, DWORD_PTR p2, DWORD_PTR p3); /* under g.cs */             /* under g.cs */
void tsp_complete_inline(DRV_REQUESTID req, LONG result); /* under cb_lock, NOT under g.cs */
LONG tsp_rpc_error(int rc, const rpc_error *err);
LONG tsp_call_sync(const char *method, cJSON *params, cJSON **result);
LONG tsp_call_async(DRV_REQUESTID req, const char *method, cJSON *params, tsp_line *line, tsp_call *owner,
                    tsp_call *target, void *buf, DWORD buf_size);
tsp_line *tsp_line_valid(HDRVLINE h);       /* under g.cs */
tsp_call *tsp_call_valid(HDRVCALL h);       /* under g.cs */
int tsp_dev_index(DWORD tapi_id, DWORD *index); /* under g.cs */
tsp_call *tsp_call_new(tsp_line *line);     /* under g.cs; registered */
void tsp_call_free(tsp_call *c);            /* under g.cs; unregisters */
tsp_line *tsp_line_new(void);
void tsp_line_free(tsp_line *l);
DWORD jdw(const cJSON *o, const char *key);
const char *jstr(const cJSON *o, const char *key);
char *w2u(const WCHAR *w, size_t nchars);   /* UTF-16 -> UTF-8 (malloc), nchars (size_t)-1 = NUL-terminated */
WCHAR *u2w(const char *u);                  /* UTF-8 -> UTF-16 (malloc) */
char *b64_encode(const BYTE *p, DWORD n);
BYTE *b64_decode(const char *s, DWORD *n);
void tsp_log(const char *fmt, ...);

/* Variable-size structure filling (docs/tapi.md §6.1). */
typedef struct { BYTE *base; DWORD total, needed, used; } vfill;
void vf_begin(vfill *v, void *s, DWORD fixed);
void vf_wstr(vfill *v, DWORD *size_field, DWORD *offset_field, const char *utf8);
void vf_wmulti(vfill *v, DWORD *size_field, DWORD *offset_field, const char *const *items, int n);
void vf_bytes(vfill *v, DWORD *size_field, DWORD *offset_field, const BYTE *p, DWORD n);
void vf_b64(vfill *v, DWORD *size_field, DWORD *offset_field, const char *b64);
void *vf_reserve(vfill *v, DWORD n, DWORD *offset); /* NULL if it does not fit (needed still grows) */
void vf_end(vfill *v);

/* tsp_ui.c */
int tsp_registry_read(char *url, size_t urlsz, char *token, size_t toksz);

#endif
