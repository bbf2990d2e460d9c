// Pseudo-terminals for VTun's `tty` type (docs/vtun-protocol.md §6.1): the master is the session's
// device (the pump reads and writes byte chunks on it), the slave becomes the controlling
// terminal and stdin/stdout of the [Device] Program (e.g. pppd).
//  - openPty(raw): posix_openpt + grantpt + unlockpt + ptsname_r; the master is non-blocking,
//    close-on-exec and never our controlling terminal (O_NOCTTY). With raw = true the line
//    discipline is put in raw mode (cfmakeraw on the slave's termios, set through the master), so
//    bytes pass unchanged even before the program configures the terminal itself.
// Errors are thrown as JS Errors with `code` (errno name), `errno` and `syscall`.
#include <napi.h>

#include "errors.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

namespace tund {
namespace {

Napi::Value PtyThrow(Napi::Env env, int err, const char* syscall) {
  ThrowErrno(env, err, syscall);
  return env.Undefined();
}

Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool raw = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return PtyThrow(env, errno, "posix_openpt");
  const char* failed = nullptr;
  char name[128];
  if (grantpt(fd) < 0) failed = "grantpt";
  else if (unlockpt(fd) < 0) failed = "unlockpt";
  else if (ptsname_r(fd, name, sizeof name) != 0) failed = "ptsname_r";
  if (failed == nullptr && raw) {
    struct termios t;
    if (tcgetattr(fd, &t) < 0) failed = "tcgetattr";
    else {
      cfmakeraw(&t);
      if (tcsetattr(fd, TCSANOW, &t) < 0) failed = "tcsetattr";
    }
  }
  if (failed == nullptr) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) failed = "fcntl";
  }
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    return PtyThrow(env, err, failed);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("master", Napi::Number::New(env, fd));
  out.Set("slavePath", Napi::String::New(env, name));
  return out;
}

}  // namespace

Napi::Object InitPty(Napi::Env env, Napi::Object exports) {
  exports.Set("openPty", Napi::Function::New(env, OpenPty, "openPty"));
  return exports;
}

}  // namespace tund
