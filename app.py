"""The application factory: a table of contents.

flask --app app run                 # development server
python -m infra.webserver           # production (granian; see infra/webserver.py)
"""

from __future__ import annotations

import logging

from flask import Flask

from config import Settings
from config.logging import configure_logging
from extensions import Services, register_extensions


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=4 * 1024 * 1024)
    trust_proxies(app, settings)
    announce_mode(settings)
    services = register_extensions(app, settings)
    register_bot(app, services)
    register_metrics(app, services)
    register_console(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def trust_proxies(app: Flask, settings: Settings) -> None:
    """Behind nginx, the client's address and scheme come from X-Forwarded-For/-Proto, from
    the proxies TRUSTED_PROXIES names; with none, those headers are ignored."""
    from infra.proxies import from_trusted_proxies

    app.wsgi_app = from_trusted_proxies(  # type: ignore[method-assign]
        app.wsgi_app, settings.trusted_proxies, settings.trusted_proxy_networks
    )


def announce_mode(settings: Settings) -> None:
    log = logging.getLogger("app")
    if settings.sandbox:
        log.warning(
            "Sandbox mode: no WeChat credentials configured; using the dev token %r and the fake "
            "WeChat API at %s.",
            settings.wechat_token,
            settings.wechat_api_base_url,
        )
    if settings.database_is_embedded:
        log.warning("DATABASE_URL is not set: using embedded SQLite (%s).", settings.database_url)


def register_bot(app: Flask, services: Services) -> None:
    from handlers import ANSWERS, FLOWS, ROUTERS
    from wechat.bot import build_bot

    app.extensions["bot"] = build_bot(
        services.settings,
        ROUTERS,
        FLOWS,
        redis_client=services.redis,
        keys=services.keys,
        api=services.api,
        cipher=services.pii,
        answers=ANSWERS,
        services=services,
    )


def register_metrics(app: Flask, services: Services) -> None:
    """Prometheus counters (infra.metrics), only when METRICS_ENABLED: every message's outcome
    and every WeChat API call (notice sends among them) are counted."""
    import atexit

    from infra.metrics import Metrics
    from wechat.client import observe_calls

    if not services.settings.metrics_enabled:
        return
    recorder = Metrics(services.redis, services.keys)
    atexit.register(recorder.close)
    app.extensions["metrics"] = recorder
    observe_calls(recorder.record_api_call)
    app.extensions["bot"].dispatcher.listeners.append(
        lambda _msg, outcome, seconds: recorder.record_message(
            outcome.route, outcome.status, seconds
        )
    )


def register_console(app: Flask) -> None:
    from console import init_console

    init_console(app)


def register_blueprints(app: Flask) -> None:
    from infra.health import bp as health_bp
    from public.activity import bp as activity_page_bp
    from public.checkin_codes import bp as checkin_codes_bp
    from public.need import bp as need_page_bp
    from public.recognition import bp as recognition_bp
    from public.verify import bp as verify_bp
    from wechat.webhook import FastWebhook
    from wechat.webhook import bp as webhook_bp

    app.register_blueprint(webhook_bp)
    # WeChat's POSTs skip Flask's request machinery: the service's hot path.
    app.wsgi_app = FastWebhook(app)  # type: ignore[method-assign]
    app.register_blueprint(health_bp)
    app.register_blueprint(verify_bp)
    app.register_blueprint(activity_page_bp)
    app.register_blueprint(checkin_codes_bp)
    app.register_blueprint(recognition_bp)
    app.register_blueprint(need_page_bp)
    if app.extensions["settings"].simulator_available:
        # Never on a production configuration: there /simulator is a 404.
        from sandbox.simulator import bp as simulator_bp

        app.register_blueprint(simulator_bp)


def register_errorhandlers(app: Flask) -> None:
    from infra.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    """Each CLI group comes from the package it belongs to."""
    from console.commands import notice_cli, operator_cli
    from console.pii_commands import pii_cli
    from console.report_commands import reports_cli
    from handlers.team_cli import teams_cli
    from infra.commands import db_cli
    from wechat.commands import flows_cli, menu_cli
    from worker.cli import worker_command

    for command in (
        db_cli,
        menu_cli,
        flows_cli,
        teams_cli,
        operator_cli,
        notice_cli,
        pii_cli,
        reports_cli,
        worker_command,
    ):
        app.cli.add_command(command)
