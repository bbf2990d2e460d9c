// ThrowErrno (errors.h): the N-API half of errors.cc.
#include <napi.h>

#include "errors.h"

namespace tund {

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what) {
  std::string message = what.empty() ? std::string(syscall) : what;
  message += ": ";
  message += ErrnoText(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

}  // namespace tund
