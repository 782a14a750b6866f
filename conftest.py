pytest_plugins = ["jarvis_common.testing.plugin"]
