// Seccomp user notification: the sentry's hot path. A SeccompListener receives notifications on a
// dedicated thread (poll + SECCOMP_IOCTL_NOTIF_RECV) and hands them to JS in batches through one
// thread-safe function; answers (SEND, ID_VALID) are quick ioctls made on the JS thread, and
// ADDFD, which waits for the task, can run on a worker thread (addFdAsync).
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <condition_variable>
#include <functional>
#include <map>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "common.h"

// Linux 6.6 (older headers lack them): wake-ups between the task and the supervisor on the
// current CPU (the two hand the CPU to each other instead of waking one another across CPUs).
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace tsor {

namespace {

constexpr int kMaxErrno = 4095;

// The audit arch of this build's own syscalls (the fast path reads their numbers as this arch's).
#if defined(__x86_64__)
constexpr uint32_t kNativeAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kNativeAuditArch = 0;  // no fast path
#endif

struct Sizes {
  SysError error;
  size_t notif = 0, resp = 0, data = 0;
};

// seccomp(SECCOMP_GET_NOTIF_SIZES): the kernel's structs may be larger than our headers' (a newer
// kernel); the kernel copies its own size, so buffers take the larger of the two.
const Sizes& KernelSizes() {
  static const Sizes sizes = [] {
    Sizes s;
    seccomp_notif_sizes k{};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) != 0) {
      s.error.Set("seccomp(SECCOMP_GET_NOTIF_SIZES)", errno);
      return s;
    }
    s.notif = std::max<size_t>(k.seccomp_notif, sizeof(seccomp_notif));
    s.resp = std::max<size_t>(k.seccomp_notif_resp, sizeof(seccomp_notif_resp));
    s.data = k.seccomp_data;
    return s;
  }();
  return sizes;
}

const Sizes& CheckedSizes(Napi::Env env) {
  const Sizes& s = KernelSizes();
  if (s.error) ThrowErrno(env, s.error.syscall, s.error.err);
  return s;
}

Napi::Value SeccompNotifSizes(const Napi::CallbackInfo& info) {
  seccomp_notif_sizes k{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) != 0) {
    ThrowErrno(info.Env(), "seccomp(SECCOMP_GET_NOTIF_SIZES)", errno);
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("notif", k.seccomp_notif);
  out.Set("resp", k.seccomp_notif_resp);
  out.Set("data", k.seccomp_data);
  return out;
}

struct Notif {
  uint64_t id;
  uint32_t pid;
  uint32_t flags;
  int32_t nr;
  uint32_t arch;
  uint64_t instructionPointer;
  uint64_t args[6];
};

Napi::Object NotifToJs(Napi::Env env, const Notif& n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::BigInt::New(env, n.id));
  o.Set("pid", n.pid);
  o.Set("flags", n.flags);
  o.Set("nr", n.nr);
  o.Set("arch", n.arch);
  o.Set("instructionPointer", Napi::BigInt::New(env, n.instructionPointer));
  Napi::Array args = Napi::Array::New(env, 6);
  for (uint32_t k = 0; k < 6; k++) args.Set(k, Napi::BigInt::New(env, n.args[k]));
  o.Set("args", args);
  return o;
}

// SECCOMP_IOCTL_NOTIF_SEND: answers notification `id` with `val`, or fails it with the positive
// errno `error`; `flags` may be SECCOMP_USER_NOTIF_FLAG_CONTINUE. The struct has the kernel's size
// (seccomp_notif_sizes). Returns 0, or the ioctl's errno (ENOENT: the task is gone).
int SendResponse(int listenerFd, size_t respSize, uint64_t id, int64_t val, int error, uint32_t flags) {
  std::vector<uint8_t> buf(respSize, 0);
  seccomp_notif_resp* resp = reinterpret_cast<seccomp_notif_resp*>(buf.data());
  resp->id = id;
  resp->val = val;
  resp->error = -error;
  resp->flags = flags;
  int r;
  do {
    r = ioctl(listenerFd, SECCOMP_IOCTL_NOTIF_SEND, buf.data());
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

}  // namespace

// One run of a listener (start() to stop()/end): what its thread has received and not yet
// delivered. Shared with queued thread-safe-function calls, which outlive a stop() or the object.
struct Channel {
  std::mutex mutex;
  std::deque<Notif> queue;
  bool scheduled = false;  // a thread-safe-function call is queued
  bool ended = false;
  SysError endError;
  SeccompListener* owner = nullptr;  // JS thread only; null once stopped
};

// The blocking half of an answer that installs an fd. SECCOMP_IOCTL_NOTIF_ADDFD sleeps until the
// trapped task itself has woken and installed the fd (seccomp_notify_addfd waits for
// seccomp_handle_addfd): tens of microseconds of scheduling on a busy machine, during which the
// event loop would serve nobody. The worker makes those ioctls (and the SEND that follows a
// SETFD) on a thread of its own and reports each failure to the loop through a uv_async handle.
// A success wakes nobody (another wake-up of the sentry per installed fd, across the CPUs of a
// small VM, slowed the app's own threads): it is only noted, and its job forgotten by the loop
// thread at its next Push or failure.
class AddFdWorker {
 public:
  struct Job {
    uint32_t token;
    seccomp_notif_addfd addfd;
    bool thenRespond;
    int64_t val;
    int32_t error;
  };
  struct Done {
    uint32_t token;
    const char* syscall;  // the failed ioctl, or null
    int err;
  };

  // Starts the threads and the loop handle for listener `fd`; `onDone` runs on the loop thread
  // for each failure (successes: TakeSucceeded).
  int Start(uv_loop_t* loop, int fd, size_t respSize, std::function<void(const Done&)> onDone) {
    fd_ = fd;
    respSize_ = respSize;
    onDone_ = std::move(onDone);
    async_ = new uv_async_t;
    int r = uv_async_init(loop, async_, &AddFdWorker::OnAsync);
    if (r != 0) {
      delete async_;
      async_ = nullptr;
      return r;
    }
    async_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    for (int i = 0; i < kThreads; i++) threads_.emplace_back(&AddFdWorker::Loop, this);
    return 0;
  }

  bool started() const { return async_ != nullptr; }

  // Loop thread: the tokens of the jobs that succeeded since the last call.
  std::vector<uint32_t> TakeSucceeded() {
    std::vector<uint32_t> out;
    std::lock_guard<std::mutex> lock(mutex_);
    out.swap(succeeded_);
    return out;
  }

  void Push(const Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(job);
    }
    cv_.notify_one();
  }

  // Joins the thread (jobs not yet run are dropped) and closes the handle. No JS.
  void Stop() {
    if (!async_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    for (const Job& job : jobs_) close(static_cast<int>(job.addfd.srcfd));  // never run: ours to close
    jobs_.clear();
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }

 private:
  void Loop() {
    pthread_setname_np(pthread_self(), "tsor-addfd");
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = jobs_.front();
        jobs_.pop_front();
      }
      Done done{job.token, nullptr, 0};
      int r;
      do {
        r = ioctl(fd_, SECCOMP_IOCTL_NOTIF_ADDFD, &job.addfd);
      } while (r < 0 && errno == EINTR);
      // Our copy goes before the call is answered: the app must be the only holder when it runs
      // on (a peer waiting for EOF after the app's close would otherwise wait for us).
      int addErr = errno;
      close(static_cast<int>(job.addfd.srcfd));
      errno = addErr;
      if (r < 0) {
        done.syscall = "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)";
        done.err = errno;
      } else if (job.thenRespond) {
        if (int err = SendResponse(fd_, respSize_, job.addfd.id, job.val, job.error, 0)) {
          done.syscall = "ioctl(SECCOMP_IOCTL_NOTIF_SEND)";
          done.err = err;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        if (done.syscall == nullptr) {
          succeeded_.push_back(done.token);
        } else {
          done_.push_back(done);
          uv_async_send(async_);
        }
      }
    }
  }

  static void OnAsync(uv_async_t* handle) {
    AddFdWorker* self = static_cast<AddFdWorker*>(handle->data);
    if (self == nullptr) return;
    std::deque<Done> done;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      done.swap(self->done_);
    }
    for (const Done& d : done) {
      if (self->async_ != handle) return;  // stopped by an earlier callback
      self->onDone_(d);
    }
  }

  // Each ioctl waits for one task: a connect's client and an accept's server are installed in
  // parallel rather than one behind the other.
  static constexpr int kThreads = 2;
  int fd_ = -1;
  size_t respSize_ = 0;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::deque<Done> done_;            // failures, for the loop
  std::vector<uint32_t> succeeded_;  // successes' tokens, taken by the loop when it next looks
  bool stopping_ = false;
  uv_async_t* async_ = nullptr;
  std::function<void(const Done&)> onDone_;
};

class SeccompListener : public Napi::ObjectWrap<SeccompListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SeccompListener",
                       {
                           InstanceMethod<&SeccompListener::Start>("start"),
                           InstanceMethod<&SeccompListener::StartOnLoop>("startOnLoop"),
                           InstanceMethod<&SeccompListener::Stop>("stop"),
                           InstanceMethod<&SeccompListener::Respond>("respond"),
                           InstanceMethod<&SeccompListener::AddFd>("addFd"),
                           InstanceMethod<&SeccompListener::AddFdAsync>("addFdAsync"),
                           InstanceMethod<&SeccompListener::IdValid>("idValid"),
                           InstanceMethod<&SeccompListener::SetSyncWakeUp>("setSyncWakeUp"),
                           InstanceMethod<&SeccompListener::SetSpin>("setSpin"),
                           InstanceMethod<&SeccompListener::RefLoop>("ref"),
                           InstanceMethod<&SeccompListener::UnrefLoop>("unref"),
                           InstanceAccessor<&SeccompListener::GetFd>("fd"),
                           InstanceAccessor<&SeccompListener::GetRunning>("running"),
                       });
  }

  // new SeccompListener(listenerFd): does not take ownership of the fd (close it after stop()).
  explicit SeccompListener(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<SeccompListener>(info),
        fd_(ArgFd(info, 0, "SeccompListener", "listenerFd")),
        guard_(State(info.Env())->guard),
        state_(State(info.Env())) {
    const Sizes& sizes = CheckedSizes(info.Env());
    notifSize_ = sizes.notif;
    respSize_ = sizes.resp;
  }

  ~SeccompListener() override {
    // The worker's threads wait on its condition variable: joined before it goes, running or not.
    addFdWorker_.Stop();
    // Not destroyed with the environment maybe gone: the async context stays (one per listener).
    (void)asyncContext_.release();
    (void)addFdContext_.release();
    if (!running_) return;
    StopThread();
    if (onLoop_) {
      std::lock_guard<std::mutex> lock(guard_->mutex);
      if (guard_->alive) state_->listeners.erase(this);
      return;
    }
    channel_->owner = nullptr;
    std::lock_guard<std::mutex> lock(guard_->mutex);
    if (guard_->alive) {  // at teardown the environment frees the tsfn and the listener set itself
      tsfn_.Release();
      state_->listeners.erase(this);
    }
  }

  // Wakes the thread and joins it (or stops watching the fd on the loop). No JS: also used at
  // environment teardown.
  void StopThread() {
    addFdWorker_.Stop();
    if (poll_ != nullptr) {
      ClosePoll();
      return;
    }
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    ssize_t ignored = write(wakeFd_, &one, sizeof(one));
    (void)ignored;
    thread_.join();
    close(wakeFd_);
    wakeFd_ = -1;
  }

 private:
  // start(onNotif(notif), onEnd?(err | null)): onEnd once when no task uses the filter any more
  // (null) or the listener fails (NativeError); not after stop(). While started, the listener
  // keeps itself (and, unless unref()'d, the event loop) alive.
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function onNotif = ArgFunction(info, 0, "SeccompListener.start", "onNotif");
    Napi::Function onEnd;
    if (!info[1].IsUndefined()) onEnd = ArgFunction(info, 1, "SeccompListener.start", "onEnd");
    if (running_) throw Napi::Error::New(env, "SeccompListener.start: already started");
    int wake = eventfd(0, EFD_CLOEXEC);
    if (wake < 0) ThrowErrno(env, "eventfd", errno);
    wakeFd_ = wake;
    onNotif_ = Napi::Persistent(onNotif);
    onEnd_ = onEnd.IsEmpty() ? Napi::FunctionReference() : Napi::Persistent(onEnd);
    channel_ = std::make_shared<Channel>();
    channel_->owner = this;
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), "tsor-seccomp", 0, 1);
    if (!keepAlive_) tsfn_.Unref(env);
    running_ = true;
    Ref();
    state_->listeners.insert(this);
    thread_ = std::thread(&SeccompListener::Loop, this, channel_);
  }

  // startOnLoop(onNotif, onEnd?): start() without the thread: the event loop itself watches the
  // listener fd (uv_poll) and each notification is received (NOTIF_RECV, after a zero-timeout
  // poll says one waits: never blocks) and delivered on the JS thread as it arrives. One thread
  // wake-up and hand-over fewer per trapped call. A fd the loop cannot watch (not pollable) falls
  // back to start().
  void StartOnLoop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function onNotif = ArgFunction(info, 0, "SeccompListener.startOnLoop", "onNotif");
    Napi::Function onEnd;
    if (!info[1].IsUndefined()) onEnd = ArgFunction(info, 1, "SeccompListener.startOnLoop", "onEnd");
    if (running_) throw Napi::Error::New(env, "SeccompListener.startOnLoop: already started");
    int err = 0;
    uv_poll_t* handle = StartLoopPoll(env, fd_, this, &SeccompListener::OnPoll, keepAlive_, &err);
    if (handle == nullptr) return Start(info);
    poll_ = handle;
    onLoop_ = true;
    env_ = env;
    if (!asyncContext_) asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "tsor-seccomp");
    onNotif_ = Napi::Persistent(onNotif);
    onEnd_ = onEnd.IsEmpty() ? Napi::FunctionReference() : Napi::Persistent(onEnd);
    running_ = true;
    Ref();
    state_->listeners.insert(this);
  }

  void ClosePoll() {
    uv_poll_t* handle = poll_;
    poll_ = nullptr;
    CloseLoopPoll(handle);
  }

  // Loop mode: the listener fd is readable (or hung up). Receives what waits (a bounded batch:
  // other handles get their turn) and delivers each notification at once.
  static void OnPoll(uv_poll_t* handle, int status, int) {
    SeccompListener* self = static_cast<SeccompListener*>(handle->data);
    if (self == nullptr || self->poll_ != handle) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    self->Ref();  // a handler's stop() must not let the object go while we are in it
    if (status < 0) {
      self->EndOnLoop(env, "poll", -status);
    } else {
      std::vector<uint8_t> buf(self->notifSize_);
      for (int k = 0; k < 64 && self->poll_ == handle; k++) {
        pollfd p{self->fd_, POLLIN, 0};
        int pr = poll(&p, 1, 0);
        if (pr < 0) {
          if (errno == EINTR) continue;
          self->EndOnLoop(env, "poll", errno);
          break;
        }
        if (pr == 0) {
          // Nothing waits: look again for spinUs_ before going back to the loop (see SetSpin).
          if (self->spinUs_ > 0 && self->SpinForNext()) continue;
          break;
        }
        if (p.revents & POLLNVAL) {
          self->EndOnLoop(env, "poll", EBADF);
          break;
        }
        if (p.revents & POLLIN) {
          memset(buf.data(), 0, buf.size());
          if (ioctl(self->fd_, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) != 0) {
            if (errno == ENOENT || errno == EINTR) continue;
            self->EndOnLoop(env, "ioctl(SECCOMP_IOCTL_NOTIF_RECV)", errno);
            break;
          }
          const seccomp_notif* kn = reinterpret_cast<const seccomp_notif*>(buf.data());
          Notif n{kn->id, kn->pid, kn->flags, kn->data.nr, kn->data.arch, kn->data.instruction_pointer, {}};
          memcpy(n.args, kn->data.args, sizeof(n.args));
          if (self->AnswerFastSetsockopt(n)) continue;
          Napi::HandleScope inner(env);
          self->CallOnLoop(env, self->onNotif_, NotifToJs(env, n));
          continue;
        }
        if (p.revents & (POLLHUP | POLLERR)) {  // no task uses the filter
          self->EndOnLoop(env, nullptr, 0);
          break;
        }
        break;
      }
    }
    self->Unref();
  }

  // The fast path (FastSetsockopt in common.h): true if `n` was answered here. The checks mirror
  // the sentry's setsockopt of a virtual connection for the one case it takes (do_tcp_setsockopt:
  // optlen >= sizeof(int), the value read from the app, its range); any other case, or any
  // failure on the way (a bad pointer, a vanished task), is left to JS, which answers it as before.
  bool AnswerFastSetsockopt(const Notif& n) {
    FastSetsockopt& fast = state_->fastSetsockopt;
    if (fast.rules.empty() || n.nr != SYS_setsockopt || n.arch != kNativeAuditArch) return false;
    // JS takes what was answered at its next call; an app that only ever makes these calls must
    // not grow the record without bound: past this many, JS answers (and takes) again.
    if (fast.answered.size() >= FastSetsockopt::kMaxUntaken * 3) return false;
    int level = static_cast<int>(n.args[1]), name = static_cast<int>(n.args[2]);
    const FastSetsockopt::Rule* rule = nullptr;
    for (const FastSetsockopt::Rule& r : fast.rules) {
      if (r.level == level && r.name == name) rule = &r;
    }
    if (rule == nullptr || static_cast<uint32_t>(n.args[4]) != sizeof(int)) return false;
    int fd = static_cast<int>(n.args[0]);
    if (fd < 0) return false;
    // The socket's inode through /proc (the fd table is the thread group's, so /proc/<tid> sees it).
    char path[64];
    snprintf(path, sizeof(path), "/proc/%u/fd/%d", n.pid, fd);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || fast.inodes.count(st.st_ino) == 0) return false;
    int value = 0;
    iovec local{&value, sizeof(value)};
    iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(n.args[3])), sizeof(value)};
    if (process_vm_readv(static_cast<pid_t>(n.pid), &local, 1, &remote, 1, 0) != sizeof(value)) return false;
    if (value < rule->min || value > rule->max) return false;
    // The read is the app's memory as the call left it only while the call is still pending
    // (seccomp_unotify(2): check the id after reading).
    uint64_t id = n.id;
    if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return false;
    if (int err = SendResponse(fd_, respSize_, n.id, 0, 0, 0)) return err == ENOENT;  // gone: nothing set
    fast.answered.insert(fast.answered.end(), {static_cast<int64_t>(st.st_ino), name, value});
    fast.count++;
    return true;
  }

  void CallOnLoop(Napi::Env env, const Napi::FunctionReference& fn, Napi::Value arg) {
    if (fn.IsEmpty()) return;
    napi_value argv[1] = {arg};
    CallFromLoop(env, *asyncContext_, fn.Value(), 1, argv);
  }

  void EndOnLoop(Napi::Env env, const char* syscall, int err) {
    Napi::FunctionReference onEnd = std::move(onEnd_);
    Finish();
    if (onEnd.IsEmpty()) return;
    Napi::Value e = syscall != nullptr ? MakeNativeError(env, syscall, err) : env.Null();
    CallOnLoop(env, onEnd, e);
  }

  // stop(): no callbacks after it returns; notifications not yet delivered are dropped (their
  // tasks stay blocked until answered through another listener or killed).
  void Stop(const Napi::CallbackInfo&) { Finish(); }

  void Finish() {
    if (!running_) return;
    if (onLoop_) {
      if (poll_ != nullptr) ClosePoll();
      onLoop_ = false;
    } else {
      StopThread();
      channel_->owner = nullptr;
      tsfn_.Release();
    }
    running_ = false;
    state_->listeners.erase(this);
    onNotif_.Reset();
    onEnd_.Reset();
    Unref();
  }

  // Worker thread.
  void Loop(std::shared_ptr<Channel> ch) {
    pthread_setname_np(pthread_self(), "tsor-seccomp");
    std::vector<uint8_t> buf(notifSize_);
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return End(ch, "poll", errno);
      }
      if (fds[1].revents != 0) return;  // stop()
      short ev = fds[0].revents;
      if (ev & POLLNVAL) return End(ch, "poll", EBADF);
      if (ev & POLLIN) {
        memset(buf.data(), 0, buf.size());  // RECV requires a zeroed buffer
        if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) != 0) {
          // ENOENT: the task died (or was interrupted) between poll and RECV: nothing to answer.
          if (errno == ENOENT || errno == EINTR) continue;
          return End(ch, "ioctl(SECCOMP_IOCTL_NOTIF_RECV)", errno);
        }
        const seccomp_notif* k = reinterpret_cast<const seccomp_notif*>(buf.data());
        Notif n{k->id, k->pid, k->flags, k->data.nr, k->data.arch, k->data.instruction_pointer, {}};
        memcpy(n.args, k->data.args, sizeof(n.args));
        bool call;
        {
          std::lock_guard<std::mutex> lock(ch->mutex);
          ch->queue.push_back(n);
          call = !ch->scheduled;
          ch->scheduled = true;
        }
        if (call) Schedule(ch);
        continue;
      }
      if (ev & (POLLHUP | POLLERR)) return End(ch, nullptr, 0);  // no task uses the filter
    }
  }

  void End(const std::shared_ptr<Channel>& ch, const char* syscall, int err) {
    bool call;
    {
      std::lock_guard<std::mutex> lock(ch->mutex);
      ch->ended = true;
      ch->endError.Set(syscall, err);
      call = !ch->scheduled;
      ch->scheduled = true;
    }
    if (call) Schedule(ch);
  }

  void Schedule(const std::shared_ptr<Channel>& ch) {
    std::lock_guard<std::mutex> lock(guard_->mutex);
    if (!guard_->alive) return;
    tsfn_.NonBlockingCall([ch](Napi::Env env, Napi::Function) {
      if (env != nullptr) Drain(env, ch);
    });
  }

  // JS thread: delivers everything queued so far; a throwing handler does not stop the batch
  // (each notification must reach the sentry or its task hangs); the first error is rethrown.
  static void Drain(Napi::Env env, const std::shared_ptr<Channel>& ch) {
    if (ch->owner == nullptr) return;
    std::deque<Notif> batch;
    bool ended;
    SysError endError;
    {
      std::lock_guard<std::mutex> lock(ch->mutex);
      batch.swap(ch->queue);
      ch->scheduled = false;
      ended = ch->ended;
      endError = ch->endError;
    }
    Napi::HandleScope scope(env);
    std::unique_ptr<Napi::Error> first;
    for (const Notif& n : batch) {
      if (ch->owner == nullptr) break;  // a handler called stop()
      try {
        ch->owner->onNotif_.Call({NotifToJs(env, n)});
      } catch (const Napi::Error& e) {
        if (!first) first = std::make_unique<Napi::Error>(e);
      }
    }
    if (ended && ch->owner != nullptr) {
      SeccompListener* self = ch->owner;
      Napi::FunctionReference onEnd = std::move(self->onEnd_);
      self->Finish();
      if (!onEnd.IsEmpty()) {
        Napi::Value err = endError ? MakeNativeError(env, endError.syscall, endError.err) : env.Null();
        try {
          onEnd.Call({err});
        } catch (const Napi::Error& e) {
          if (!first) first = std::make_unique<Napi::Error>(e);
        }
      }
    }
    if (first) first->ThrowAsJavaScriptException();
  }

  // respond(id, val, error, flags): SECCOMP_IOCTL_NOTIF_SEND. `error` is a positive errno (0 for
  // success, then `val` is the syscall's return value); flags may be
  // SECCOMP_USER_NOTIF_FLAG_CONTINUE (then val and error must be 0). ENOENT: the task is gone.
  void Respond(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t id = ArgU64(info, 0, "SeccompListener.respond", "id");
    int64_t val = 0;
    if (info[1].IsBigInt()) {
      bool lossless = false;
      val = info[1].As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) ThrowType(env, "SeccompListener.respond: val must fit in an int64");
    } else {
      val = ArgInt(info, 1, "SeccompListener.respond", "val", -9007199254740991LL, 9007199254740991LL);
    }
    int error = static_cast<int>(ArgInt(info, 2, "SeccompListener.respond", "error", 0, kMaxErrno));
    uint32_t flags = static_cast<uint32_t>(ArgInt(info, 3, "SeccompListener.respond", "flags", 0, UINT32_MAX));
    if (int err = SendResponse(fd_, respSize_, id, val, error, flags)) ThrowErrno(env, "ioctl(SECCOMP_IOCTL_NOTIF_SEND)", err);
  }

  // addFd(id, srcFd, newFd, {setfd?, send?, cloexec?}): SECCOMP_IOCTL_NOTIF_ADDFD installs a dup
  // of our srcFd in the task; returns its number there. setfd: at newFd exactly (replacing what
  // was there), else the lowest free fd (newFd ignored). send: also answers the notification
  // with that number, atomically. ENOENT: the task is gone.
  Napi::Value AddFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t id = ArgU64(info, 0, "SeccompListener.addFd", "id");
    int srcFd = ArgFd(info, 1, "SeccompListener.addFd", "srcFd");
    int newFd = ArgFd(info, 2, "SeccompListener.addFd", "newFd");
    Napi::Object options = ArgOptions(info, 3, "SeccompListener.addFd");
    bool setfd = OptionBool(options, "SeccompListener.addFd", "setfd", false);
    bool send = OptionBool(options, "SeccompListener.addFd", "send", false);
    bool cloexec = OptionBool(options, "SeccompListener.addFd", "cloexec", false);
    seccomp_notif_addfd addfd{};
    addfd.id = id;
    addfd.flags = (setfd ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0);
    addfd.srcfd = static_cast<uint32_t>(srcFd);
    addfd.newfd = setfd ? static_cast<uint32_t>(newFd) : 0;
    addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    int r = ioctl(fd_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    if (r < 0) ThrowErrno(env, "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)", errno);
    return Napi::Number::New(env, r);
  }

  // addFdAsync(id, srcFd, newFd, {setfd?, send?, cloexec?}, then, onFail): addFd on the worker
  // thread, then (when `then` is {val, error}) the SEND answering the call; onFail(err) on the
  // loop if either fails (a success is silent). The worker takes srcFd over and closes it right
  // after the ADDFD.
  void AddFdAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* fn = "SeccompListener.addFdAsync";
    uint64_t id = ArgU64(info, 0, fn, "id");
    int srcFd = ArgFd(info, 1, fn, "srcFd");
    int newFd = ArgFd(info, 2, fn, "newFd");
    Napi::Object options = ArgOptions(info, 3, fn);
    bool setfd = OptionBool(options, fn, "setfd", false);
    bool send = OptionBool(options, fn, "send", false);
    bool cloexec = OptionBool(options, fn, "cloexec", false);
    AddFdWorker::Job job{};
    job.addfd.id = id;
    job.addfd.flags = (setfd ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0);
    job.addfd.srcfd = static_cast<uint32_t>(srcFd);
    job.addfd.newfd = setfd ? static_cast<uint32_t>(newFd) : 0;
    job.addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    if (info[4].IsObject()) {
      Napi::Object then = info[4].As<Napi::Object>();
      job.thenRespond = true;
      job.val = static_cast<int64_t>(then.Get("val").ToNumber().Int64Value());
      job.error = static_cast<int32_t>(then.Get("error").ToNumber().Int32Value());
      if (job.error < 0 || job.error > kMaxErrno) ThrowType(env, "SeccompListener.addFdAsync: then.error must be an errno");
      if (send) ThrowType(env, "SeccompListener.addFdAsync: send and then exclude each other");
    }
    Napi::Function onFail = ArgFunction(info, 5, fn, "onFail");
    ForgetSucceeded();
    if (!addFdWorker_.started()) {
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, "uv_default_loop", EINVAL);
      napi_env rawEnv = env;
      int r = addFdWorker_.Start(loop, fd_, respSize_, [this, rawEnv](const AddFdWorker::Done& d) { DeliverAddFd(Napi::Env(rawEnv), d); });
      if (r != 0) ThrowErrno(env, "uv_async_init", -r);
      if (!addFdContext_) addFdContext_ = std::make_unique<Napi::AsyncContext>(env, "tsor-addfd");
    }
    job.token = nextToken_++;
    addFdCallbacks_.emplace(job.token, Napi::Persistent(onFail));
    addFdWorker_.Push(job);
  }

  // A failed job: its onFail.
  void DeliverAddFd(Napi::Env env, const AddFdWorker::Done& d) {
    ForgetSucceeded();
    auto it = addFdCallbacks_.find(d.token);
    if (it == addFdCallbacks_.end()) return;
    Napi::FunctionReference cb = std::move(it->second);
    addFdCallbacks_.erase(it);
    Napi::HandleScope scope(env);
    napi_value argv[1] = {MakeNativeError(env, d.syscall, d.err)};
    CallFromLoop(env, *addFdContext_, cb.Value(), 1, argv);
  }

  // JS thread: drops the onFail of the jobs that succeeded meanwhile.
  void ForgetSucceeded() {
    if (!addFdWorker_.started()) return;
    for (uint32_t token : addFdWorker_.TakeSucceeded()) addFdCallbacks_.erase(token);
  }

  // idValid(id): the notification is still pending (its task alive, still in the syscall). Check
  // after reading the task's memory: the pid could have been reused (TOCTOU).
  Napi::Value IdValid(const Napi::CallbackInfo& info) {
    uint64_t id = ArgU64(info, 0, "SeccompListener.idValid", "id");
    if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)", errno);
  }

  // setSyncWakeUp(): SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), Linux 6.6:
  // the task and the sentry wake each other on the current CPU. Returns false where the kernel
  // does not know it (EINVAL, ENOTTY); other errors throw.
  Napi::Value SetSyncWakeUp(const Napi::CallbackInfo& info) {
    if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0) {
      return Napi::Boolean::New(info.Env(), true);
    }
    if (errno == EINVAL || errno == ENOTTY) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS)", errno);
  }

  // setSpin(us): in loop mode, after the last waiting notification is handled, poll the listener
  // for up to `us` microseconds before the event loop goes back to epoll_wait. A trapped call
  // often follows another within microseconds (connect, then the server's accept and options);
  // caught while spinning, it costs no wake-up of a sleeping thread, which on a VM whose idle
  // vCPUs halt is a VM exit of tens of µs (docs/architecture.md). 0: never spin.
  void SetSpin(const Napi::CallbackInfo& info) {
    spinUs_ = ArgInt(info, 0, "SeccompListener.setSpin", "us", 0, 1000000);
  }

  // True if a notification arrived within spinUs_ (poll with a zero timeout, as the loop does).
  bool SpinForNext() {
    timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 0) > 0) return true;  // POLLIN, or a hang-up the loop reports next
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t us = (now.tv_sec - start.tv_sec) * 1000000LL + (now.tv_nsec - start.tv_nsec) / 1000;
      if (us >= spinUs_) return false;
    }
  }

  void RefLoop(const Napi::CallbackInfo& info) {
    keepAlive_ = true;
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else if (running_) tsfn_.Ref(info.Env());
  }

  void UnrefLoop(const Napi::CallbackInfo& info) {
    keepAlive_ = false;
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    else if (running_) tsfn_.Unref(info.Env());
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetRunning(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), running_);
  }

  int fd_;
  std::shared_ptr<EnvGuard> guard_;
  AddonState* state_;
  size_t notifSize_ = 0, respSize_ = 0;
  int wakeFd_ = -1;
  bool running_ = false;
  bool keepAlive_ = true;
  int64_t spinUs_ = 0;
  std::thread thread_;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<Channel> channel_;
  Napi::FunctionReference onNotif_, onEnd_;
  // Loop mode (startOnLoop): the fd's watcher, and what its callback needs.
  uv_poll_t* poll_ = nullptr;
  bool onLoop_ = false;
  napi_env env_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  AddFdWorker addFdWorker_;
  std::unique_ptr<Napi::AsyncContext> addFdContext_;
  std::map<uint32_t, Napi::FunctionReference> addFdCallbacks_;
  uint32_t nextToken_ = 1;
};

void StopAllListeners(AddonState* state) {
  for (SeccompListener* l : state->listeners) l->StopThread();
  state->listeners.clear();
}

// fastSetsockopt.configure(rules): rules is an Int32Array of [level, name, min, max] quadruples
// (an empty one turns the fast path off). See FastSetsockopt (common.h).
void FastSetsockoptConfigure(const Napi::CallbackInfo& info) {
  const char* fn = "fastSetsockopt.configure";
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowType(info.Env(), std::string(fn) + ": rules must be an Int32Array of [level, name, min, max]");
  }
  Napi::Int32Array rules = info[0].As<Napi::Int32Array>();
  if (rules.ElementLength() % 4 != 0) ThrowType(info.Env(), std::string(fn) + ": rules must hold [level, name, min, max] quadruples");
  std::vector<FastSetsockopt::Rule> next;
  for (size_t i = 0; i < rules.ElementLength(); i += 4) {
    if (rules[i + 2] > rules[i + 3]) ThrowType(info.Env(), std::string(fn) + ": a rule's min is above its max");
    next.push_back({rules[i], rules[i + 1], rules[i + 2], rules[i + 3]});
  }
  State(info.Env())->fastSetsockopt.rules.swap(next);  // all or nothing
}

// fastSetsockopt.mark(ino) / unmark(ino): a socket inode the fast path answers for, or no more.
void FastSetsockoptMark(const Napi::CallbackInfo& info) {
  State(info.Env())->fastSetsockopt.inodes.insert(ArgU64(info, 0, "fastSetsockopt.mark", "ino"));
}

void FastSetsockoptUnmark(const Napi::CallbackInfo& info) {
  State(info.Env())->fastSetsockopt.inodes.erase(ArgU64(info, 0, "fastSetsockopt.unmark", "ino"));
}

// fastSetsockopt.take(): the calls answered since the last take, as a BigInt64Array of
// [ino, name, value] triples, or null if none.
Napi::Value FastSetsockoptTake(const Napi::CallbackInfo& info) {
  FastSetsockopt& fast = State(info.Env())->fastSetsockopt;
  if (fast.answered.empty()) return info.Env().Null();
  Napi::BigInt64Array out = Napi::BigInt64Array::New(info.Env(), fast.answered.size());
  std::copy(fast.answered.begin(), fast.answered.end(), out.Data());
  fast.answered.clear();
  return out;
}

// fastSetsockopt.stats(): { answered, inodes } (how many calls were answered in all, and how many
// inodes are marked now).
Napi::Value FastSetsockoptStats(const Napi::CallbackInfo& info) {
  FastSetsockopt& fast = State(info.Env())->fastSetsockopt;
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("answered", Napi::Number::New(info.Env(), static_cast<double>(fast.count)));
  o.Set("inodes", Napi::Number::New(info.Env(), static_cast<double>(fast.inodes.size())));
  return o;
}

void InitSeccomp(Napi::Env env, Napi::Object exports) {
  Napi::Object fast = Napi::Object::New(env);
  fast.Set("configure", Napi::Function::New(env, FastSetsockoptConfigure, "configure"));
  fast.Set("mark", Napi::Function::New(env, FastSetsockoptMark, "mark"));
  fast.Set("unmark", Napi::Function::New(env, FastSetsockoptUnmark, "unmark"));
  fast.Set("take", Napi::Function::New(env, FastSetsockoptTake, "take"));
  fast.Set("stats", Napi::Function::New(env, FastSetsockoptStats, "stats"));
  exports.Set("fastSetsockopt", fast);
  exports.Set("seccompNotifSizes", Napi::Function::New(env, SeccompNotifSizes, "seccompNotifSizes"));
  exports.Set("SeccompListener", SeccompListener::Define(env));
  TSOR_CONSTANT(exports, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  TSOR_CONSTANT(exports, SECCOMP_ADDFD_FLAG_SETFD);
  TSOR_CONSTANT(exports, SECCOMP_ADDFD_FLAG_SEND);
  TSOR_CONSTANT(exports, SECCOMP_FILTER_FLAG_NEW_LISTENER);
  TSOR_CONSTANT(exports, SECCOMP_RET_ALLOW);
  TSOR_CONSTANT(exports, SECCOMP_RET_ERRNO);
  TSOR_CONSTANT(exports, SECCOMP_RET_TRACE);
  TSOR_CONSTANT(exports, SECCOMP_RET_USER_NOTIF);
  TSOR_CONSTANT(exports, AUDIT_ARCH_X86_64);
  TSOR_CONSTANT(exports, AUDIT_ARCH_AARCH64);
}

}  // namespace tsor
