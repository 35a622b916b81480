// Process supervision: waitPid (on its own thread), pidfds, prctl, closeFd, fstatIno, setNonblock.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace tsor {

namespace {

struct WaitResult {
  SysError error;
  int pid = 0;
  int code = -1;        // exit code, or -1
  int signal = -1;      // terminating signal, or -1
  bool coreDumped = false;
  int stopSignal = -1;  // traced: the stop signal (SIGTRAP | 0x80 for syscall stops), or -1
  int event = 0;        // traced: PTRACE_EVENT_* of the stop (status >> 16), or 0
};

WaitResult WaitExit(int pid) {
  WaitResult r;
  r.pid = pid;
  siginfo_t si{};
  while (waitid(P_PID, pid, &si, WEXITED) != 0) {
    if (errno != EINTR) {
      r.error.Set("waitid", errno);
      return r;
    }
  }
  if (si.si_code == CLD_EXITED) {
    r.code = si.si_status;
  } else {
    r.signal = si.si_status;
    r.coreDumped = si.si_code == CLD_DUMPED;
  }
  return r;
}

// A traced task reports stops as well as its exit; __WALL also waits for non-leader threads.
WaitResult WaitTraced(int pid) {
  WaitResult r;
  r.pid = pid;
  int status = 0;
  while (waitpid(pid, &status, __WALL) < 0) {
    if (errno != EINTR) {
      r.error.Set("waitpid", errno);
      return r;
    }
  }
  if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.coreDumped = WCOREDUMP(status);
  } else if (WIFSTOPPED(status)) {
    r.stopSignal = WSTOPSIG(status);
    r.event = (status >> 16) & 0xff;
  }
  return r;
}

Napi::Value IntOrNull(Napi::Env env, int v) {
  return v < 0 ? env.Null() : Napi::Number::New(env, v);
}

// waitPid(pid, cb(status), options?: {keepAlive?, traced?}): waits on a dedicated thread for a
// child libuv does not know (libuv reaps only its own children, pid by pid). ECHILD (not our
// child) is thrown at once; a later failure (someone else reaped it) arrives as status.error.
void WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0, "waitPid");
  Napi::Function cb = ArgFunction(info, 1, "waitPid", "cb");
  Napi::Object options = ArgOptions(info, 2, "waitPid");
  bool keepAlive = OptionBool(options, "waitPid", "keepAlive", true);
  bool traced = OptionBool(options, "waitPid", "traced", false);
  siginfo_t si{};
  if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT | (traced ? __WALL : 0)) != 0) {
    ThrowErrno(env, "waitid", errno);
  }
  RunOnThread<WaitResult>(
      env, cb, keepAlive, "tsor-wait",
      [pid, traced]() { return traced ? WaitTraced(pid) : WaitExit(pid); },
      [](Napi::Env env, Napi::Function cb, WaitResult& r) {
        Napi::Object status = Napi::Object::New(env);
        status.Set("pid", r.pid);
        status.Set("code", IntOrNull(env, r.code));
        status.Set("signal", IntOrNull(env, r.signal));
        status.Set("coreDumped", r.coreDumped);
        status.Set("stopSignal", IntOrNull(env, r.stopSignal));
        status.Set("event", r.event);
        status.Set("error", r.error ? MakeNativeError(env, r.error.syscall, r.error.err) : env.Null());
        CallbackSafely(cb, {status});
      });
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "pidfdOpen");
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) ThrowErrno(info.Env(), "pidfd_open", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

void PidfdSendSignal(const Napi::CallbackInfo& info) {
  int pidfd = ArgFd(info, 0, "pidfdSendSignal", "pidfd");
  int sig = ArgSignal(info, 1, "pidfdSendSignal");
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) {
    ThrowErrno(info.Env(), "pidfd_send_signal", errno);
  }
}

// The duplicate is close-on-exec (the kernel sets O_CLOEXEC).
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  int pidfd = ArgFd(info, 0, "pidfdGetfd", "pidfd");
  int target = ArgFd(info, 1, "pidfdGetfd", "targetFd");
  long fd = syscall(SYS_pidfd_getfd, pidfd, target, 0);
  if (fd < 0) ThrowErrno(info.Env(), "pidfd_getfd", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

void CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "closeFd");
  // On Linux the fd is released even when close() reports EINTR: do not retry.
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);
}

void SetChildSubreaper(const Napi::CallbackInfo& info) {
  bool on = ArgBool(info, 0, "setChildSubreaper", "on");
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) != 0) {
    ThrowErrno(info.Env(), "prctl(PR_SET_CHILD_SUBREAPER)", errno);
  }
}

Napi::Value GetChildSubreaper(const Napi::CallbackInfo& info) {
  int on = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) != 0) {
    ThrowErrno(info.Env(), "prctl(PR_GET_CHILD_SUBREAPER)", errno);
  }
  return Napi::Boolean::New(info.Env(), on != 0);
}

// The signal this process gets when the thread that forked it dies (0 = none).
void SetPdeathsig(const Napi::CallbackInfo& info) {
  int sig = ArgSignal(info, 0, "setPdeathsig");
  if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0) {
    ThrowErrno(info.Env(), "prctl(PR_SET_PDEATHSIG)", errno);
  }
}

Napi::Value GetPdeathsig(const Napi::CallbackInfo& info) {
  int sig = 0;
  if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0) {
    ThrowErrno(info.Env(), "prctl(PR_GET_PDEATHSIG)", errno);
  }
  return Napi::Number::New(info.Env(), sig);
}

// {dev, ino} of an fd: the identity of a socket across dup/fork/SCM_RIGHTS.
Napi::Value FstatIno(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fstatIno");
  struct stat st {};
  if (fstat(fd, &st) != 0) ThrowErrno(info.Env(), "fstat", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("dev", Napi::BigInt::New(info.Env(), static_cast<uint64_t>(st.st_dev)));
  out.Set("ino", Napi::BigInt::New(info.Env(), static_cast<uint64_t>(st.st_ino)));
  return out;
}

// O_NONBLOCK is per open file description: one end of a socketpair can differ from the other.
void SetNonblock(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "setNonblock");
  bool on = ArgBool(info, 1, "setNonblock", "on");
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl(F_GETFL)", errno);
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && fcntl(fd, F_SETFL, want) != 0) {
    ThrowErrno(info.Env(), "fcntl(F_SETFL)", errno);
  }
}

// getFileFlags(fd): fcntl(F_GETFL), the open file's status flags (O_NONBLOCK, O_RDWR, ...).
Napi::Value GetFileFlags(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getFileFlags");
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl(F_GETFL)", errno);
  return Napi::Number::New(info.Env(), flags);
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd, "pidfdGetfd"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("getChildSubreaper", Napi::Function::New(env, GetChildSubreaper, "getChildSubreaper"));
  exports.Set("setPdeathsig", Napi::Function::New(env, SetPdeathsig, "setPdeathsig"));
  exports.Set("getPdeathsig", Napi::Function::New(env, GetPdeathsig, "getPdeathsig"));
  exports.Set("fstatIno", Napi::Function::New(env, FstatIno, "fstatIno"));
  exports.Set("setNonblock", Napi::Function::New(env, SetNonblock, "setNonblock"));
  exports.Set("getFileFlags", Napi::Function::New(env, GetFileFlags, "getFileFlags"));
}

}  // namespace tsor
