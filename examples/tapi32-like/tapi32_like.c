/* A minimal library with tapi32's exports, for `--backend tapi32:PATH` on Linux (docs/windows.md,
   "Bring your own tapi32"). It knows one line device, the desk extension "201", and implements just
   enough to initialise, negotiate, read the capabilities and open the desk line; every other export is
   simply absent, which the adapter reports by name on first use.

   Build (the SDK header from mingw-w64, this directory's include/ for the Windows base types):
     gcc -shared -fPIC -fshort-wchar -Wall -Werror -Iinclude -idirafter /usr/share/mingw-w64/include \
         -o libtapi32like.so tapi32_like.c -lpthread

   The friendly application name passed to lineInitializeExW comes back as LINEDEVCAPS' ProviderInfo,
   so a test can see that UTF-16 strings cross the boundary intact. */
#include <windows.h>
#include <tapi.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#define APPS 4                 /* hLineApp 0x00010001.., each opening the desk line as hLine 0x00020001.. */
#define APP(i) (0x00010001u + (DWORD)(i))
#define LINE(i) (0x00020001u + (DWORD)(i))
#define FIXED_DEVCAPS offsetof(LINEDEVCAPS, dwLineFeatures)   /* TAPI 1.3's fixed part, grown below */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t posted = PTHREAD_COND_INITIALIZER;
static struct app {
  int initialized, line_open, queued;
  LINEMESSAGE queue[8];
  WCHAR name[64];
} apps[APPS];

/* The application an hLineApp names, or NULL (caller holds the lock). */
static struct app *app_of(HLINEAPP h) {
  DWORD i = h - APP(0);
  return i < APPS && apps[i].initialized ? &apps[i] : NULL;
}

static struct app *app_of_line(HLINE h) {
  DWORD i = h - LINE(0);
  return i < APPS && apps[i].initialized && apps[i].line_open ? &apps[i] : NULL;
}

static size_t wlen(LPCWSTR s) { size_t n = 0; while (s[n]) n++; return n; }

static DWORD put_string(LPVOID base, DWORD total, DWORD *used, DWORD *size_field, DWORD *offset_field,
                        LPCWSTR text) {
  DWORD bytes = (DWORD)((wlen(text) + 1) * sizeof(WCHAR));
  DWORD at = (*used + 3u) & ~3u;
  if (at + bytes <= total) {
    memcpy((char *)base + at, text, bytes);
    *size_field = bytes; *offset_field = at; *used = at + bytes;
  }
  return at + bytes;     /* what the structure needs with this item */
}

static void post(struct app *a, DWORD device, DWORD msg, DWORD_PTR p1, DWORD_PTR p2, DWORD_PTR p3) {
  if (a->queued < 8) {
    LINEMESSAGE m = {device, msg, 0, p1, p2, p3};
    a->queue[a->queued++] = m;
    pthread_cond_broadcast(&posted);
  }
}

LONG WINAPI lineInitializeExW(LPHLINEAPP app, HINSTANCE inst, LINECALLBACK cb, LPCWSTR name, LPDWORD devs,
                              LPDWORD version, LPLINEINITIALIZEEXPARAMS params) {
  (void)inst; (void)cb;
  if (!app || !devs || !version || !params) return (LONG)LINEERR_INVALPOINTER;
  if (params->dwTotalSize < sizeof(LINEINITIALIZEEXPARAMS)) return (LONG)LINEERR_STRUCTURETOOSMALL;
  if ((params->dwOptions & 0x7FFFFFFF) != LINEINITIALIZEEXOPTION_USEEVENT) return (LONG)LINEERR_INVALPARAM;
  pthread_mutex_lock(&lock);
  int i = 0;
  while (i < APPS && apps[i].initialized) i++;
  if (i == APPS) { pthread_mutex_unlock(&lock); return (LONG)LINEERR_NOMEM; }
  memset(&apps[i], 0, sizeof apps[i]);
  if (name) for (size_t k = 0; k < 63 && name[k]; k++) apps[i].name[k] = name[k];
  apps[i].initialized = 1;
  pthread_mutex_unlock(&lock);
  *app = APP(i); *devs = 1; *version = 0x00020002;
  params->dwNeededSize = params->dwUsedSize = sizeof(LINEINITIALIZEEXPARAMS);
  params->Handles.hEvent = (HANDLE)(uintptr_t)0x1234;
  return 0;
}

LONG WINAPI lineShutdown(HLINEAPP app) {
  pthread_mutex_lock(&lock);
  struct app *a = app_of(app);
  if (a) { a->initialized = 0; a->line_open = 0; pthread_cond_broadcast(&posted); }
  pthread_mutex_unlock(&lock);
  return a ? 0 : (LONG)LINEERR_INVALAPPHANDLE;
}

/* Whether hLineApp is live, for the synchronous functions (a snapshot under the lock). */
static int live(HLINEAPP app) {
  pthread_mutex_lock(&lock);
  int ok = app_of(app) != NULL;
  pthread_mutex_unlock(&lock);
  return ok;
}

LONG WINAPI lineNegotiateAPIVersion(HLINEAPP app, DWORD device, DWORD low, DWORD high, LPDWORD version,
                                    LPLINEEXTENSIONID ext) {
  if (!live(app)) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!version || !ext) return (LONG)LINEERR_INVALPOINTER;
  if (low > 0x00020002 || high < 0x00010003) return (LONG)LINEERR_INCOMPATIBLEAPIVERSION;
  *version = high < 0x00020002 ? high : 0x00020002;
  memset(ext, 0, sizeof *ext);
  return 0;
}

LONG WINAPI lineGetDevCapsW(HLINEAPP app, DWORD device, DWORD version, DWORD ext, LPLINEDEVCAPS caps) {
  (void)ext;
  if (!live(app)) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!caps) return (LONG)LINEERR_INVALPOINTER;
  DWORD fixed = version >= 0x00020000 ? (DWORD)offsetof(LINEDEVCAPS, PermanentLineGuid) : (DWORD)FIXED_DEVCAPS;
  DWORD total = caps->dwTotalSize;
  if (total < fixed) return (LONG)LINEERR_STRUCTURETOOSMALL;
  memset((char *)caps + 4, 0, fixed - 4);
  DWORD used = fixed, needed;
  pthread_mutex_lock(&lock);
  struct app *a = app_of(app);
  WCHAR name[64] = {0};
  if (a) memcpy(name, a->name, sizeof name);
  pthread_mutex_unlock(&lock);
  needed = put_string(caps, total, &used, &caps->dwProviderInfoSize, &caps->dwProviderInfoOffset, name);
  DWORD used2 = used;
  DWORD need2 = put_string(caps, total, &used2, &caps->dwLineNameSize, &caps->dwLineNameOffset,
                           L"Desk 201 \u00e9t\u00e9");
  caps->dwNeededSize = need2 > needed ? need2 : needed;
  caps->dwUsedSize = used2;
  caps->dwPermanentLineID = 201;
  caps->dwStringFormat = STRINGFORMAT_UNICODE;
  caps->dwAddressModes = LINEADDRESSMODE_ADDRESSID;
  caps->dwNumAddresses = 1;
  caps->dwBearerModes = LINEBEARERMODE_VOICE;
  caps->dwMediaModes = LINEMEDIAMODE_INTERACTIVEVOICE;
  caps->dwMaxNumActiveCalls = 1;
  return 0;
}

LONG WINAPI lineGetAddressCapsW(HLINEAPP app, DWORD device, DWORD address, DWORD version, DWORD ext,
                                LPLINEADDRESSCAPS caps) {
  (void)ext;
  if (!live(app)) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (address != 0) return (LONG)LINEERR_INVALADDRESSID;
  if (!caps) return (LONG)LINEERR_INVALPOINTER;
  DWORD fixed = version >= 0x00020000 ? (DWORD)sizeof(LINEADDRESSCAPS)
                                      : (DWORD)offsetof(LINEADDRESSCAPS, dwAddressFeatures);
  if (caps->dwTotalSize < fixed) return (LONG)LINEERR_STRUCTURETOOSMALL;
  memset((char *)caps + 4, 0, fixed - 4);
  DWORD used = fixed;
  caps->dwNeededSize = put_string(caps, caps->dwTotalSize, &used, &caps->dwAddressSize, &caps->dwAddressOffset,
                                  L"+49 89 1234-201");
  caps->dwUsedSize = used;
  caps->dwLineDeviceID = 0;
  caps->dwMaxNumActiveCalls = 1;
  return 0;
}

LONG WINAPI lineOpenW(HLINEAPP app, DWORD device, LPHLINE line, DWORD version, DWORD ext, DWORD_PTR instance,
                      DWORD privileges, DWORD media, LPLINECALLPARAMS params) {
  (void)version; (void)ext; (void)instance; (void)privileges; (void)media; (void)params;
  if (!live(app)) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!line) return (LONG)LINEERR_INVALPOINTER;
  pthread_mutex_lock(&lock);
  struct app *a = app_of(app);
  if (a) {
    a->line_open = 1;
    *line = LINE(a - apps);
    post(a, 0, LINE_LINEDEVSTATE, LINEDEVSTATE_OPEN, 0, 0);   /* so the message pump has something to carry */
  }
  pthread_mutex_unlock(&lock);
  return a ? 0 : (LONG)LINEERR_INVALAPPHANDLE;
}

LONG WINAPI lineClose(HLINE line) {
  pthread_mutex_lock(&lock);
  struct app *a = app_of_line(line);
  if (a) a->line_open = 0;
  pthread_mutex_unlock(&lock);
  return a ? 0 : (LONG)LINEERR_INVALLINEHANDLE;
}

LONG WINAPI lineSetStatusMessages(HLINE line, DWORD line_states, DWORD address_states) {
  (void)line_states; (void)address_states;
  pthread_mutex_lock(&lock);
  int ok = app_of_line(line) != NULL;
  pthread_mutex_unlock(&lock);
  return ok ? 0 : (LONG)LINEERR_INVALLINEHANDLE;
}

/* The message pump's wait: real time, bounded by the caller's timeout (INFINITE = 0xFFFFFFFF). */
LONG WINAPI lineGetMessage(HLINEAPP app, LPLINEMESSAGE message, DWORD timeout_ms) {
  if (!message) return (LONG)LINEERR_INVALPOINTER;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&lock);
  int rc = 0;
  struct app *a;
  while ((a = app_of(app)) != NULL && !a->queued && rc != ETIMEDOUT)
    rc = timeout_ms == 0xFFFFFFFF ? pthread_cond_wait(&posted, &lock)
                                  : pthread_cond_timedwait(&posted, &lock, &until);
  LONG result = 0;
  if (!a) result = (LONG)LINEERR_INVALAPPHANDLE;
  else if (!a->queued) result = (LONG)LINEERR_OPERATIONFAILED;
  else {
    *message = a->queue[0];
    memmove(a->queue, a->queue + 1, sizeof(LINEMESSAGE) * (size_t)--a->queued);
  }
  pthread_mutex_unlock(&lock);
  return result;
}
