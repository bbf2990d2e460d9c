// One way for every part of the addon to describe a failed system call: by errno name (EPERM,
// EADDRINUSE, ...; every errno, not a short list). To JS as an Error whose `code` is that name,
// `errno` the number and `syscall` the call that failed (JS maps codes to exit statuses,
// core/errors.ts); inside the native engine's messages as "strerror (ENAME)".
// The N-API part is only declared here (Napi::Env forward-declared), so the pure C++ engine can
// include this header without N-API.
#pragma once

#include <string>

namespace Napi {
class Env;
}

namespace tund {

// "EPERM" for EPERM, ..., "EUNKNOWN" for a number glibc has no name for.
const char* ErrnoName(int err);

// "Connection refused (ECONNREFUSED)".
std::string ErrnoText(int err);

// Builds the Error and schedules it as the pending exception; the caller returns right after.
// `what` (optional) says what was being done: "cannot open /dev/net/tun". The message then reads
// "what: strerror (ENAME)", else "syscall: strerror (ENAME)".
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what = std::string());

}  // namespace tund
