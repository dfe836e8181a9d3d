// Engine events, as docker's /events stream reports them:
//   {"Type":"container","Action":"start","Actor":{"ID":"<id>","Attributes":{"image":"busybox",
//    "name":"web", ...labels}},"scope":"local","time":1700000000,"timeNano":1700000000123456789,
//    plus the legacy "status","id","from" fields for containers and images}
// Kept in memory (the last kHistory events, for `since`), published to live subscribers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace berth::engine {

struct Event {
  std::string type;    // container, image, volume, network, daemon
  std::string action;  // create, start, die, destroy, pull, tag, untag, delete, ...
  std::string actor_id;
  std::map<std::string, std::string> attributes;
  int64_t time_nano = 0;  // set by publish() when 0
};

// docker's `filters` for /events: type, event/action, container, image, label (key or
// key=value), ... — each key's values OR'ed, the keys AND'ed.
struct EventFilter {
  std::map<std::string, std::vector<std::string>> filters;
  bool matches(const Event& e) const;
};

class EventBus {
 public:
  static constexpr size_t kHistory = 1024;

  void publish(Event e);

  class Subscription {
   public:
    // Waits up to timeout_ms for the next event (nullopt on timeout or after close()).
    std::optional<Event> next(int timeout_ms);
    ~Subscription();

   private:
    friend class EventBus;
    EventBus* bus_ = nullptr;
    std::deque<Event> queue_;
    bool closed_ = false;
  };
  // Events with time >= since_nano from the history first, then live ones.
  std::unique_ptr<Subscription> subscribe(int64_t since_nano = -1);
  // Wakes every subscriber (daemon shutdown).
  void close_all();

 private:
  friend class Subscription;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> history_;
  std::vector<Subscription*> subs_;
  bool closing_ = false;
};

}  // namespace berth::engine
