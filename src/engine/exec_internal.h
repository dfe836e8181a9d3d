// Exec waiters and the service's shutdown. Every running exec has a thread blocked in the
// shim's `wait` (container_exec.cc); ContainerService::shutdown() (containers.cc) breaks their
// connections as it does the monitors', so that berthd can stop while execs run. The execs
// themselves go on under their shims.
#pragma once

#include "engine/containers_internal.h"

namespace berth::engine {

// Waiters are registered per service, under its Impl's address (a ContainerService::Impl*;
// the type is private to the service).
using ServiceKey = const void*;

// Shuts down the shim connection of every exec waiter of `service`; a waiter that registers
// later finds its own connection shut at once.
void shut_down_exec_waiters(ServiceKey service);
// Forgets `service`'s waiters once its threads have ended.
void forget_exec_waiters(ServiceKey service);

}  // namespace berth::engine
