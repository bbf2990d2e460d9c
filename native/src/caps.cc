// Capabilities: a session drops what it does not need once it is set up (tund(8) CAPABILITIES).
// Raw capget/capset/prctl, no libcap: the addon has no dependency beyond Node's headers.
#include <napi.h>

#include "errors.h"

#include <cerrno>
#include <cstdint>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tund {
namespace {

void ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

uint64_t ReadLastCap() {
  // the highest capability this kernel knows; prctl answers EINVAL past it
  int cap = 0;
  while (cap < 64 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) cap++;
  return static_cast<uint64_t>(cap);
}

// keepCapabilities(keep: number[]): { bounding: boolean, dropped: boolean }
// Leaves exactly `keep` (intersected with what the process has) in the permitted, effective and
// inheritable sets, lowers every other ambient capability, and takes every other capability out
// of the bounding set when the process may (CAP_SETPCAP): then programs it starts (ip, hooks) can
// never get them back, even as root. bounding: whether the bounding set now holds only `keep`;
// dropped: false when a seccomp filter refused capset.
Napi::Value KeepCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowType(env, "keepCapabilities: expected an array of capability numbers");
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  uint64_t keep = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) {
      ThrowType(env, "keepCapabilities: expected an array of capability numbers");
      return env.Undefined();
    }
    int64_t cap = v.As<Napi::Number>().Int64Value();
    if (cap < 0 || cap > 63) {
      ThrowType(env, "keepCapabilities: capability number out of range");
      return env.Undefined();
    }
    keep |= uint64_t{1} << cap;
  }
  uint64_t last = ReadLastCap();
  bool bounding = true;
  // the bounding set first: dropping from it needs CAP_SETPCAP, which the capset below removes
  for (uint64_t cap = 0; cap <= last; cap++) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) bounding = false;
  }
  for (uint64_t cap = 0; cap <= last; cap++) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) {
      prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
    }
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    int err = errno;
    ThrowErrno(env, err, "capget", "cannot read the process's capabilities");
    return env.Undefined();
  }
  bool change = false;
  for (int i = 0; i < 2; i++) {
    uint32_t mask = static_cast<uint32_t>(keep >> (32 * i));
    uint32_t permitted = data[i].permitted & mask;
    uint32_t inheritable = data[i].inheritable & mask;
    change = change || permitted != data[i].permitted || permitted != data[i].effective || inheritable != data[i].inheritable;
    data[i].permitted = permitted;
    data[i].effective = permitted;
    data[i].inheritable = inheritable;
  }
  // Nothing to drop (systemd's CapabilityBoundingSet= already did): no capset, which the unit's
  // SystemCallFilter=~@privileged refuses.
  bool dropped = true;
  if (change && syscall(SYS_capset, &header, data) != 0) {
    int err = errno;
    if (err != EPERM) {
      ThrowErrno(env, err, "capset", "cannot drop capabilities");
      return env.Undefined();
    }
    // a seccomp filter refuses capset (SystemCallFilter=~@privileged while the bounding set holds
    // more than the session keeps): the caller says so, the session still runs
    dropped = false;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("bounding", Napi::Boolean::New(env, bounding));
  result.Set("dropped", Napi::Boolean::New(env, dropped));
  return result;
}

}  // namespace

Napi::Object InitCaps(Napi::Env env, Napi::Object exports) {
  exports.Set("keepCapabilities", Napi::Function::New(env, KeepCapabilities, "keepCapabilities"));
  return exports;
}

}  // namespace tund
