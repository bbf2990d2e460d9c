#include "errors.h"

#include <napi.h>
#include <string.h>

namespace tund {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32 knows every errno
  return name != nullptr ? name : "EUNKNOWN";
}

std::string ErrnoText(int err) {
  std::string text = strerror(err);
  text += " (";
  text += ErrnoName(err);
  text += ")";
  return text;
}

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
