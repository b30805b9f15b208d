/* JSON-RPC 2.0 client over a WebSocket to the ro-conformance bridge (docs/bridge.md); API fixed by
   tsp/CONTRACT.md, implemented in rpc.c (transport helper), used by the TSP (tsp_*.c) and the harness. */
#ifndef ROTSP_RPC_H
#define ROTSP_RPC_H

#include <windows.h>
#include "cJSON.h"
typedef struct rpc_client rpc_client;
typedef struct {
    int code;            /* JSON-RPC error code, e.g. -32000 */
    DWORD lineerr;       /* data.lineerr when code == -32000 (a LINEERR_* as DWORD), else 0 */
    char message[256];   /* error message (UTF-8), or a transport reason */
} rpc_error;
enum { RPC_OK = 0, RPC_EREMOTE = 1 /* JSON-RPC error, see rpc_error */, RPC_ETIMEOUT = 2, RPC_EDOWN = 3 /* not connected */ };
/* Called on ONE dispatch thread (never the socket reader, never concurrently, never re-entered), in arrival order.
   rpc_call() may be used from inside on_notify. params is owned by the library (do not free / keep). */
typedef void (*rpc_notify_fn)(void *ctx, const char *method, const cJSON *params);
/* connected = 1 after each successful (re)connect, 0 when the connection is lost; called on the dispatch thread,
   ordered with the notifications. */
typedef void (*rpc_state_fn)(void *ctx, int connected);
typedef struct {
    const char *url;             /* ws://host:port/path */
    const char *token;           /* NULL or "" = none */
    DWORD call_timeout_ms;       /* bound of one rpc_call (default 2000 when 0) */
    DWORD connect_timeout_ms;    /* bound of one connect attempt incl. handshake (default 2000 when 0) */
    rpc_notify_fn on_notify; rpc_state_fn on_state; void *ctx;
} rpc_config;
/* Starts the background threads; connects at once and reconnects after a loss with backoff 0.25 s doubling to 8 s.
   Never blocks longer than connect_timeout_ms (returns after the first attempt, connected or not). NULL on OOM. */
rpc_client *rpc_start(const rpc_config *cfg);
/* Thread-safe, any thread incl. on_notify. params: an object or NULL, ALWAYS consumed. *result set on RPC_OK
   (caller frees with cJSON_Delete; a JSON null result is returned as a cJSON NULL item, never a C NULL). */
int rpc_call(rpc_client *c, const char *method, cJSON *params, cJSON **result, rpc_error *err);
int rpc_connected(rpc_client *c);
/* Closes, joins the threads (bounded: 2 s), frees. Pending calls return RPC_EDOWN. */
void rpc_stop(rpc_client *c);

#endif /* ROTSP_RPC_H */
