"""Which engine a visitor gets: site settings, visitor choice, the OpenAI budget, fallbacks."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from museum import engine_choice
from museum.engine_choice import EngineChoiceProblem, choose_engine, record_openai_use
from museum.models import OpenAIUsage, SiteSettings

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-model")
    call_command("build_tiny_model", str(directory), stdout=None)
    return directory


@pytest.fixture(autouse=True)
def engines(settings, reset_engines, tmp_path):
    """OpenAI configured (never called), and no own model unless a test installs one."""
    settings.OPENAI_API_KEY = "sk-test-not-used"
    settings.OPENAI_IMAGE_MODEL = "gpt-image-1"
    settings.OLPE_MODEL = str(tmp_path / "no-model-here")
    settings.OLPE_ALLOW_TINY_MODEL = False
    SiteSettings.forget_cached()
    yield reset_engines
    SiteSettings.forget_cached()


@pytest.fixture
def own_model(settings, tiny_model, reset_engines):
    settings.OLPE_MODEL = str(tiny_model)
    settings.OLPE_ALLOW_TINY_MODEL = True
    reset_engines.reset()


def site_settings(**values) -> SiteSettings:
    site = SiteSettings.load()
    for name, value in values.items():
        setattr(site, name, value)
    site.save()
    return site


def use_up_budget(images: int) -> None:
    OpenAIUsage.objects.update_or_create(day=engine_choice.today(), defaults={"images": images})


def test_visitors_get_the_engine_of_the_site_settings():
    site_settings(visitor_engine="openai")
    assert choose_engine() == engine_choice.EngineChoice("openai", "")
    site_settings(visitor_engine="classic")
    assert choose_engine() == engine_choice.EngineChoice("classic", "")
    assert engine_choice.default_engine() == "classic"


def test_a_fresh_installation_offers_the_configured_default_engine(settings):
    settings.OLPE_DEFAULT_ENGINE = "openai"
    SiteSettings.objects.all().delete()
    assert SiteSettings.load().visitor_engine == "openai"


def test_a_visitors_request_is_ignored_unless_visitors_may_choose():
    site_settings(visitor_engine="classic", visitors_choose_engine=False)
    assert choose_engine("openai").engine == "classic"
    assert choose_engine("no-such-engine").engine == "classic"

    site_settings(visitors_choose_engine=True)
    assert choose_engine("openai").engine == "openai"
    assert choose_engine(None).engine == "classic"


def test_staff_api_clients_may_always_choose():
    site_settings(visitor_engine="classic", visitors_choose_engine=False)
    assert choose_engine("openai", may_choose=True).engine == "openai"
    assert choose_engine(None, may_choose=True).engine == "classic"


def test_an_unknown_engine_that_would_be_honoured_is_an_error():
    site_settings(visitors_choose_engine=True)
    with pytest.raises(EngineChoiceProblem) as problem:
        choose_engine("dall-e-9")
    assert problem.value.field == "engine" and "dall-e-9" in str(problem.value.message)


def test_when_the_budget_is_used_up_jobs_go_to_the_own_model(own_model):
    site_settings(visitor_engine="openai", openai_daily_budget=3)
    use_up_budget(2)
    assert choose_engine().engine == "openai"

    use_up_budget(3)
    choice = choose_engine()
    assert choice.engine == "diffusers"
    assert "OpenAI" in str(choice.notice)


def test_without_an_own_model_a_used_up_budget_means_the_classic_engine():
    site_settings(visitor_engine="openai", openai_daily_budget=3)
    use_up_budget(5)
    choice = choose_engine()
    assert choice.engine == "classic" and "OpenAI" in str(choice.notice)


def test_a_zero_budget_never_sends_a_job_to_openai():
    site_settings(visitor_engine="openai", openai_daily_budget=0)
    assert choose_engine("openai", may_choose=True).engine == "classic"


def test_yesterdays_images_do_not_count_today():
    site_settings(visitor_engine="openai", openai_daily_budget=3)
    OpenAIUsage.objects.create(day=engine_choice.today() - timedelta(days=1), images=99)
    assert choose_engine().engine == "openai"
    assert engine_choice.openai_budget_left() == 3


def test_an_engine_that_cannot_run_falls_back_with_a_notice(settings, engines):
    settings.OPENAI_API_KEY = ""
    engines.reset()
    site_settings(visitor_engine="openai")
    choice = choose_engine()
    assert choice.engine == "classic"
    assert "not available" in str(choice.notice)

    site_settings(visitor_engine="diffusers")
    choice = choose_engine()
    assert choice.engine == "classic" and str(choice.notice)


def test_the_own_model_runs_when_it_is_installed(own_model):
    site_settings(visitor_engine="diffusers")
    assert choose_engine() == engine_choice.EngineChoice("diffusers", "")


def test_settings_changes_apply_at_once_in_this_process():
    site_settings(visitor_engine="classic")
    assert choose_engine().engine == "classic"
    site_settings(visitor_engine="openai")
    assert choose_engine().engine == "openai"


def test_openai_use_is_counted_per_day():
    assert record_openai_use() == 1
    assert record_openai_use(2) == 3
    assert engine_choice.openai_images_today() == 3
    yesterday = engine_choice.today() - timedelta(days=1)
    assert record_openai_use(day=yesterday) == 1
    assert dict(OpenAIUsage.objects.values_list("day", "images")) == {
        engine_choice.today(): 3,
        yesterday: 1,
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_lose_a_count():
    threads, per_thread = 4, 15
    start = threading.Barrier(threads)
    errors = []

    def worker():
        try:
            start.wait()
            for _ in range(per_thread):
                record_openai_use()
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert errors == []
    assert OpenAIUsage.objects.get(day=engine_choice.today()).images == threads * per_thread


# --- the engine registry owns names, labels and the fallback order ----------------------


def test_the_registry_names_every_engine_once():
    from inpainting_core import engines as registry

    assert set(registry.ENGINE_NAMES) == set(registry.LABELS) == set(registry.SHORT_LABELS)
    assert set(registry.FALLBACK_ORDER) == set(registry.ENGINE_NAMES)
    for name in registry.ENGINE_NAMES:
        engine = registry.get_engine(name)
        assert engine.name == name and engine.label == registry.label(name)
    assert [value for value, _label in SiteSettings._meta.get_field("visitor_engine").choices] == [
        registry.OWN_MODEL, registry.OPENAI, registry.CLASSIC
    ]


def test_the_registry_owns_the_fallback_order():
    from inpainting_core import engines as registry

    assert registry.fallback_chain(registry.OPENAI) == (
        registry.OPENAI, registry.OWN_MODEL, registry.CLASSIC
    )
    assert registry.fallback_chain(registry.OWN_MODEL) == (registry.OWN_MODEL, registry.CLASSIC)
    assert registry.fallback_chain(registry.CLASSIC) == (registry.CLASSIC,)
    # In the worker only the own model falls back; an OpenAI failure is the job's.
    assert registry.worker_fallback(registry.OWN_MODEL) == registry.CLASSIC
    assert registry.worker_fallback(registry.OPENAI) is None
    assert registry.worker_fallback(registry.CLASSIC) is None
