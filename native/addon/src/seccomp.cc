#include "common.h"
namespace tsor {
void InitSeccomp(Napi::Env, Napi::Object) {}
void StopAllListeners(AddonState*) {}
}
