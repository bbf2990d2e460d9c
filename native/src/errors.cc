// The pure part of errors.h (no N-API: the fuzz targets link it); ThrowErrno is in errors_napi.cc.
#include "errors.h"

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

}  // namespace tund
