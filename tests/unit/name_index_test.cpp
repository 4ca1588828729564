// The supervisor's index by name: whatever is inserted and erased, in any order, it finds
// exactly what an ordered map of the same names would (collisions, wrap-around at the end of
// the array and the backward shift of erase included).
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "name_index.hpp"

namespace {

struct Named {
  std::string text;
  std::string_view name() const { return text; }
};

}  // namespace

TEST_CASE("the name index finds what was inserted and not erased, and nothing else") {
  std::mt19937 random(17);
  std::vector<std::unique_ptr<Named>> all;
  for (int i = 0; i < 3000; ++i)
    all.push_back(std::make_unique<Named>(Named{"s" + std::to_string(i)}));
  arm::detail::NameIndex<Named> index;
  std::map<std::string, Named*> model;
  for (int step = 0; step < 40000; ++step) {
    Named* entry = all[random() % all.size()].get();
    if (model.contains(entry->text)) {
      index.erase(entry->name());
      model.erase(entry->text);
    } else {
      index.insert(entry);
      model.emplace(entry->text, entry);
    }
    if (step % 97 == 0) {
      for (const auto& each : all) {
        auto found = model.find(each->text);
        CHECK(index.find(each->name()) == (found == model.end() ? nullptr : found->second));
      }
    }
  }
  CHECK(index.size() == model.size());
  CHECK(index.find("never inserted") == nullptr);
}

TEST_CASE("an empty name index finds nothing and erases nothing") {
  arm::detail::NameIndex<Named> index;
  CHECK(index.find("web") == nullptr);
  index.erase("web");
  CHECK(index.size() == 0);
}
