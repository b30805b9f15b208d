/* The Windows base types mingw-w64's tapi.h uses, with their Windows widths, so that the SDK header
   itself compiles for Linux (gcc -fshort-wchar: WCHAR is 16 bits, strings are UTF-16 as on Windows).
   WINAPI is empty: a Linux library uses the platform's C calling convention (docs/windows.md). */
#ifndef TAPI32_LIKE_WINDOWS_H
#define TAPI32_LIKE_WINDOWS_H
#include <stdint.h>
#include <stddef.h>
#if __SIZEOF_WCHAR_T__ != 2
#error "build with -fshort-wchar: tapi32 strings are UTF-16"
#endif
#define WINAPI
#define CALLBACK
#define DECLSPEC_IMPORT
#define CONST const
#define VOID void
#define __LONG32 int
#define __MSABI_LONG(x) x
#define __C89_NAMELESS
#define __C89_NAMELESSUNIONNAME
#define __MINGW_NAME_AW(func) func##A
#define __MINGW_TYPEDEF_AW(type) typedef type##A type;
typedef uint32_t DWORD; typedef int32_t LONG; typedef uint16_t WORD; typedef uint8_t BYTE; typedef int BOOL;
typedef unsigned int UINT; typedef LONG HRESULT; typedef DWORD *LPDWORD;
typedef wchar_t WCHAR; typedef char CHAR;
typedef const WCHAR *LPCWSTR; typedef WCHAR *LPWSTR; typedef const CHAR *LPCSTR; typedef CHAR *LPSTR;
typedef void *LPVOID; typedef void *HANDLE; typedef HANDLE *LPHANDLE;
typedef HANDLE HINSTANCE; typedef HANDLE HWND; typedef HANDLE HICON; typedef HICON *LPHICON;
typedef uintptr_t DWORD_PTR; typedef uintptr_t ULONG_PTR; typedef uintptr_t UINT_PTR; typedef intptr_t LONG_PTR;
typedef UINT_PTR WPARAM;
typedef double DATE;
typedef union { struct { uint32_t Lo; int32_t Hi; } s; int64_t int64; } CURRENCY;
typedef struct _SYSTEMTIME {
  WORD wYear, wMonth, wDayOfWeek, wDay, wHour, wMinute, wSecond, wMilliseconds;
} SYSTEMTIME;
#endif
