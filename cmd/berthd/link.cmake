target_link_libraries(berthd PRIVATE berth_api berth_engine berth_util CLI11::CLI11
                      nlohmann_json::nlohmann_json Threads::Threads)
