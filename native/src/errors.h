// One way for every part of the addon to report a failed system call to JS: an Error whose
// `code` is the errno name (EPERM, EADDRINUSE, ...; every errno, not a short list), `errno` the
// number and `syscall` the call that failed. JS maps codes to exit statuses (core/errors.ts).
#pragma once

#include <napi.h>

#include <string>

namespace tund {

// "EPERM" for EPERM, ..., "EUNKNOWN" for a number glibc has no name for.
const char* ErrnoName(int err);

// Builds the Error and schedules it as the pending exception; the caller returns right after.
// `what` (optional) says what was being done: "cannot open /dev/net/tun". The message then reads
// "what: strerror (ENAME)", else "syscall: strerror (ENAME)".
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what = std::string());

}  // namespace tund
