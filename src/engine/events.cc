// The engine's event bus: a bounded history for `since`, and live subscribers.
#include "engine/events.h"

#include <algorithm>
#include <chrono>

namespace berth::engine {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool any_of(const std::vector<std::string>& values, auto&& pred) {
  return std::any_of(values.begin(), values.end(), pred);
}

std::string attr(const Event& e, const std::string& key) {
  auto it = e.attributes.find(key);
  return it == e.attributes.end() ? std::string() : it->second;
}

// docker's `label` filter: "key" (present) or "key=value".
bool label_matches(const Event& e, const std::string& f) {
  size_t eq = f.find('=');
  if (eq == std::string::npos) return e.attributes.count(f) != 0;
  auto it = e.attributes.find(f.substr(0, eq));
  return it != e.attributes.end() && it->second == f.substr(eq + 1);
}

bool key_matches(const Event& e, const std::string& key, const std::vector<std::string>& vals) {
  if (vals.empty()) return true;
  if (key == "type") return any_of(vals, [&](const std::string& v) { return v == e.type; });
  if (key == "event" || key == "action")
    return any_of(vals, [&](const std::string& v) {
      // "exec_start" also matches "exec_start: sh -c ..." (docker's exec actions carry the
      // command after a colon).
      return v == e.action || e.action.starts_with(v + ":");
    });
  if (key == "label")
    return any_of(vals, [&](const std::string& v) { return label_matches(e, v); });
  if (key == "container" || key == "image" || key == "volume" || key == "network" ||
      key == "daemon") {
    if (key != "daemon" && e.type != key && !(key == "image" && e.type == "container"))
      return false;
    return any_of(vals, [&](const std::string& v) {
      if (key == "image" && e.type == "container") return attr(e, "image") == v;
      return v == e.actor_id || (!v.empty() && e.actor_id.starts_with(v) && v.size() >= 12) ||
             v == attr(e, "name");
    });
  }
  if (key == "scope") return any_of(vals, [](const std::string& v) { return v == "local"; });
  return true;  // keys docker has that berth never sets (plugin, node, service, ...)
}

}  // namespace

bool EventFilter::matches(const Event& e) const {
  for (const auto& [key, vals] : filters)
    if (!key_matches(e, key, vals)) return false;
  return true;
}

void EventBus::publish(Event e) {
  if (e.time_nano == 0) e.time_nano = now_ns();
  std::lock_guard lk(mu_);
  history_.push_back(e);
  if (history_.size() > kHistory) history_.pop_front();
  for (Subscription* s : subs_) s->queue_.push_back(e);
  cv_.notify_all();
}

std::unique_ptr<EventBus::Subscription> EventBus::subscribe(int64_t since_nano) {
  auto sub = std::make_unique<Subscription>();
  sub->bus_ = this;
  std::lock_guard lk(mu_);
  if (since_nano >= 0)
    for (const Event& e : history_)
      if (e.time_nano >= since_nano) sub->queue_.push_back(e);
  sub->closed_ = closing_;
  subs_.push_back(sub.get());
  return sub;
}

void EventBus::close_all() {
  std::lock_guard lk(mu_);
  closing_ = true;
  for (Subscription* s : subs_) s->closed_ = true;
  cv_.notify_all();
}

std::optional<Event> EventBus::Subscription::next(int timeout_ms) {
  std::unique_lock lk(bus_->mu_);
  bus_->cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                     [&] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return std::nullopt;
  Event e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

EventBus::Subscription::~Subscription() {
  if (!bus_) return;
  std::lock_guard lk(bus_->mu_);
  std::erase(bus_->subs_, this);
}

}  // namespace berth::engine
