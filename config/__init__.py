from config.settings import ConfigError, Settings

__all__ = ["ConfigError", "Settings"]
