target_link_libraries(berth PRIVATE berth_cli berth_client berth_util CLI11::CLI11 nlohmann_json::nlohmann_json)
