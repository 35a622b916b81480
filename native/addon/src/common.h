// Shared helpers of the tsor_native addon: argument checks (TypeError), errno errors (NativeError),
// per-environment state, and the one-shot "blocking call on its own thread" runner.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <uv.h>
#include <mutex>
#include <set>
#include <unordered_set>
#include <vector>
#include <string>

namespace tsor {

class SeccompListener;

// Shared by the JS thread and worker threads. The environment cleanup hook clears `alive` under
// `mutex`; a worker calls a thread-safe function only while holding `mutex` with `alive` set, so
// no worker touches a thread-safe function that environment teardown has already freed.
struct EnvGuard {
  std::mutex mutex;
  bool alive = true;
};

// What SeccompListener's loop mode answers without JS: setsockopt of the configured [level, name]
// on a socket whose inode JS marked (a virtual connection), optlen 4 and a value in range.
// Everything else goes to JS as before. JS thread only (loop mode runs on the event loop).
struct FastSetsockopt {
  struct Rule {
    int level, name;
    int64_t min, max;
  };
  std::vector<Rule> rules;  // empty: off
  std::unordered_set<uint64_t> inodes;
  std::vector<int64_t> answered;  // [ino, name, value] triples JS has not taken yet
  uint64_t count = 0;             // answered in all
  static constexpr size_t kMaxUntaken = 4096;
};

// Per-environment (main thread or worker) instance data.
struct AddonState {
  std::shared_ptr<EnvGuard> guard = std::make_shared<EnvGuard>();
  Napi::FunctionReference errorClass;  // set by setErrorClass (native/index.ts passes NativeError)
  std::set<SeccompListener*> listeners;  // started listeners, stopped at environment teardown
  FastSetsockopt fastSetsockopt;
};

AddonState* State(Napi::Env env);

// A failed system call, captured on any thread and turned into a NativeError on the JS thread.
struct SysError {
  const char* syscall = nullptr;  // a string literal
  int err = 0;
  explicit operator bool() const { return err != 0; }
  void Set(const char* name, int e) {
    syscall = name;
    err = e;
  }
};

// new NativeError(syscall, errno) (a plain Error with the same fields before setErrorClass).
Napi::Value MakeNativeError(Napi::Env env, const char* syscall, int err);
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

// Argument readers: each throws TypeError("fn: name must be ...") on a bad argument.
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
               int64_t min, int64_t max);
inline int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name = "fd") {
  return static_cast<int>(ArgInt(info, i, fn, name, 0, INT32_MAX));
}
inline int ArgPid(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(ArgInt(info, i, fn, "pid", 1, INT32_MAX));
}
inline int ArgSignal(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(ArgInt(info, i, fn, "signal", 0, 64));
}
// A bigint in [0, 2^64) or a non-negative safe integer.
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
// An optional options object (undefined allowed); Option* read one boolean field.
Napi::Object ArgOptions(const Napi::CallbackInfo& info, size_t i, const char* fn);
bool OptionBool(Napi::Object options, const char* fn, const char* key, bool fallback);

// Calls `cb(...args)` from a thread-safe-function callback. A throwing callback must not unwind
// through C++: its exception is handed back to Node as an uncaught exception.
void CallbackSafely(Napi::Function cb, const std::initializer_list<napi_value>& args);

// Runs `work` on a new detached std::thread and, back on the JS thread, `deliver(env, cb, result)`.
// `keepAlive` false: the pending call does not keep the event loop alive. If the environment is
// gone when the work finishes, the result is destroyed undelivered (its destructor cleans up).
template <typename Result>
void RunOnThread(Napi::Env env, Napi::Function cb, bool keepAlive, const char* threadName,
                 std::function<Result()> work,
                 std::function<void(Napi::Env, Napi::Function, Result&)> deliver);

// exports.constants[name] = value (the numbers come from the system headers, never retyped).
void SetConstant(Napi::Object exports, const char* name, int64_t value);
#define TSOR_CONSTANT(exports, name) ::tsor::SetConstant(exports, #name, (name))

void InitProcess(Napi::Env env, Napi::Object exports);
void InitFdPass(Napi::Env env, Napi::Object exports);
void InitSeccomp(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitPtrace(Napi::Env env, Napi::Object exports);
void InitUnix(Napi::Env env, Napi::Object exports);
void InitInet(Napi::Env env, Napi::Object exports);
void InitInotify(Napi::Env env, Napi::Object exports);
void InitEpoll(Napi::Env env, Napi::Object exports);
void StopAllListeners(AddonState* state);

// Event-loop watches of a fd (uv_poll), for the JS thread's own readiness waits.
// StartLoopPoll: a started, readable watch of `fd` calling cb with handle->data = data, unref'd
// unless keepAlive; nullptr and *err (a negative uv error) if the loop cannot watch the fd.
uv_poll_t* StartLoopPoll(Napi::Env env, int fd, void* data, uv_poll_cb cb, bool keepAlive, int* err);
// Stops a watch; the handle is freed once libuv has closed it. No JS.
void CloseLoopPoll(uv_poll_t* handle);
// Calls fn(argv...) from a loop callback (microtasks and ticks run after it); a throw becomes an
// uncaught exception, as one thrown in a thread-safe function's callback does.
void CallFromLoop(Napi::Env env, napi_async_context context, napi_value fn, size_t argc, const napi_value* argv);

}  // namespace tsor

#include "run_on_thread.h"
