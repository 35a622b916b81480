// RunOnThread: a blocking call on its own thread, reported through a thread-safe function.
#pragma once

#include <pthread.h>

#include <thread>
#include <utility>

namespace tsor {

template <typename Result>
void RunOnThread(Napi::Env env, Napi::Function cb, bool keepAlive, const char* threadName,
                 std::function<Result()> work,
                 std::function<void(Napi::Env, Napi::Function, Result&)> deliver) {
  std::shared_ptr<EnvGuard> guard = State(env)->guard;
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, cb, threadName, 0, 1);
  if (!keepAlive) tsfn.Unref(env);
  std::thread([guard, tsfn, threadName, work = std::move(work),
               deliver = std::move(deliver)]() mutable {
    pthread_setname_np(pthread_self(), threadName);
    Result* result = new Result(work());
    std::lock_guard<std::mutex> lock(guard->mutex);
    if (!guard->alive) {
      delete result;
      return;
    }
    napi_status status = tsfn.NonBlockingCall(
        result, [deliver](Napi::Env env, Napi::Function jsCb, Result* data) {
          std::unique_ptr<Result> owned(data);
          if (env == nullptr || jsCb.IsEmpty()) return;  // being torn down
          deliver(env, jsCb, *owned);
        });
    if (status != napi_ok) delete result;
    tsfn.Release();
  }).detach();
}

}  // namespace tsor
