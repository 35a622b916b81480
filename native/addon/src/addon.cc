// tsor_native: module init, NativeError construction and argument checks.
#include <cmath>

#include "common.h"

namespace tsor {

AddonState* State(Napi::Env env) { return env.GetInstanceData<AddonState>(); }

Napi::Value MakeNativeError(Napi::Env env, const char* syscall, int err) {
  AddonState* state = State(env);
  Napi::String name = Napi::String::New(env, syscall);
  Napi::Number number = Napi::Number::New(env, err);
  if (state != nullptr && !state->errorClass.IsEmpty()) {
    return state->errorClass.New({name, number});
  }
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": errno " + std::to_string(err));
  error.Set("syscall", name);
  error.Set("errno", number);
  return error.Value();
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) {
  throw Napi::Error(env, MakeNativeError(env, syscall, err));
}

void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

static std::string Where(const char* fn, const char* name) {
  return std::string(fn) + ": " + name;
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
               int64_t min, int64_t max) {
  Napi::Value v = info[i];
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::trunc(d) == d && d >= static_cast<double>(min) &&
        d <= static_cast<double>(max)) {
      return static_cast<int64_t>(d);
    }
  }
  ThrowType(info.Env(), Where(fn, name) + " must be an integer in [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]");
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return u;
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::trunc(d) == d && d >= 0 && d <= 9007199254740991.0) {
      return static_cast<uint64_t>(d);
    }
  }
  ThrowType(info.Env(), Where(fn, name) + " must be a bigint in [0, 2^64) or a safe integer >= 0");
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsBoolean()) ThrowType(info.Env(), Where(fn, name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* fn,
                           const char* name) {
  if (!info[i].IsFunction()) ThrowType(info.Env(), Where(fn, name) + " must be a function");
  return info[i].As<Napi::Function>();
}

Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* fn,
                          const char* name) {
  if (info[i].IsTypedArray()) {
    Napi::TypedArray t = info[i].As<Napi::TypedArray>();
    if (t.TypedArrayType() == napi_uint8_array) return t.As<Napi::Uint8Array>();
  }
  ThrowType(info.Env(), Where(fn, name) + " must be a Buffer or Uint8Array");
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsString()) ThrowType(info.Env(), Where(fn, name) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    ThrowType(info.Env(), Where(fn, name) + " must not contain NUL");
  }
  return s;
}

Napi::Object ArgOptions(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject() || info[i].IsArray() || info[i].IsFunction()) {
    ThrowType(info.Env(), Where(fn, "options") + " must be an object");
  }
  return info[i].As<Napi::Object>();
}

bool OptionBool(Napi::Object options, const char* fn, const char* key, bool fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) {
    ThrowType(options.Env(), std::string(fn) + ": options." + key + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

void SetConstant(Napi::Object exports, const char* name, int64_t value) {
  exports.Get("constants").As<Napi::Object>().Set(name, static_cast<double>(value));
}

void CallbackSafely(Napi::Function cb, const std::initializer_list<napi_value>& args) {
  try {
    cb.Call(args);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // pending again: Node reports it as uncaught
  }
}

// setErrorClass(ctor): every later failure is thrown as `new ctor(syscall, errno)`.
static void SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Function ctor = ArgFunction(info, 0, "setErrorClass", "ctor");
  State(info.Env())->errorClass = Napi::Persistent(ctor);
}

static void Cleanup(void* data) {
  AddonState* state = static_cast<AddonState*>(data);
  {
    std::lock_guard<std::mutex> lock(state->guard->mutex);
    state->guard->alive = false;
  }
  StopAllListeners(state);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonState* state = new AddonState();
  env.SetInstanceData(state);  // deleted by node-addon-api after the cleanup hooks
  napi_add_env_cleanup_hook(env, Cleanup, state);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("constants", Napi::Object::New(env));  // filled by each Init* from system headers
  InitProcess(env, exports);
  InitFdPass(env, exports);
  InitSeccomp(env, exports);
  InitMemory(env, exports);
  InitPtrace(env, exports);
  InitUnix(env, exports);
  InitInet(env, exports);
  InitInotify(env, exports);
  InitEpoll(env, exports);
  return exports;
}

uv_poll_t* StartLoopPoll(Napi::Env env, int fd, void* data, uv_poll_cb cb, bool keepAlive, int* err) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    *err = UV_EINVAL;
    return nullptr;
  }
  uv_poll_t* handle = new uv_poll_t;
  int r = uv_poll_init(loop, handle, fd);
  if (r != 0) {
    delete handle;
    *err = r;
    return nullptr;
  }
  handle->data = data;
  r = uv_poll_start(handle, UV_READABLE, cb);
  if (r != 0) {
    CloseLoopPoll(handle);
    *err = r;
    return nullptr;
  }
  if (!keepAlive) uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  return handle;
}

void CloseLoopPoll(uv_poll_t* handle) {
  uv_poll_stop(handle);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

void CallFromLoop(Napi::Env env, napi_async_context context, napi_value fn, size_t argc, const napi_value* argv) {
  napi_value result;
  if (napi_make_callback(env, context, env.Global(), fn, argc, argv, &result) == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
}

}  // namespace tsor

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return tsor::Init(env, exports);
}

NODE_API_MODULE(tsor_native, InitModule)
