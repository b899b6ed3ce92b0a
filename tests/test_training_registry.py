"""The curators' registry: which model visitors get and which styles the kiosk offers."""

import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from PIL import Image

from inpainting_core.styles import STYLES
from training import registry
from training.models import DiffusionModel, RegistryState, StyleAdapter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def make_model(name="Olpe v1", source="/srv/olpe/models/v1", **fields) -> DiffusionModel:
    return DiffusionModel.objects.create(name=name, source=source, **fields)


def make_adapter(style="medieval", source="/srv/olpe/loras/medieval-a", **fields) -> StyleAdapter:
    return StyleAdapter.objects.create(style=style, source=source, **fields)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------
# The active model
# ------------------------------------------------------------------------------


def test_without_an_active_model_the_engine_uses_its_setting():
    make_model()
    assert registry.active_model_source() is None


def test_activating_a_model_deactivates_the_other_one():
    first = make_model("v1", "/srv/models/v1", active=True)
    second = make_model("v2", "/srv/models/v2")

    second.active = True
    second.save()

    first.refresh_from_db()
    assert not first.active
    assert list(DiffusionModel.objects.filter(active=True)) == [second]
    assert registry.active_model_source() == "/srv/models/v2"


def test_the_database_refuses_a_second_active_model():
    make_model("v1", "/srv/models/v1", active=True)
    second = make_model("v2", "/srv/models/v2")

    with pytest.raises(IntegrityError), transaction.atomic():
        DiffusionModel.objects.filter(pk=second.pk).update(active=True)


# ------------------------------------------------------------------------------
# The version workers compare before each job
# ------------------------------------------------------------------------------


def test_registry_version_changes_with_every_save_and_delete_and_only_then():
    versions = [registry.registry_version()]

    def changed() -> bool:
        versions.append(registry.registry_version())
        return versions[-1] != versions[-2]

    model = make_model()
    assert changed()
    registry.active_model_source(), registry.active_lora_styles(), registry.kiosk_styles()
    assert not changed()
    model.active = True
    model.save()
    assert changed()
    adapter = make_adapter()
    assert changed()
    adapter.offered_in_kiosk = True
    adapter.save()
    assert changed()
    StyleAdapter.objects.all().delete()
    assert changed()
    model.delete()
    assert changed()
    assert versions == sorted(versions)


def test_the_version_row_comes_back_if_it_was_lost():
    RegistryState.objects.all().delete()
    assert registry.registry_version() == 0

    make_model()

    assert registry.registry_version() == 1


# ------------------------------------------------------------------------------
# Styles
# ------------------------------------------------------------------------------


def test_active_lora_styles_are_the_adapters_offered_in_the_kiosk():
    make_adapter("medieval", "/srv/loras/medieval-a", offered_in_kiosk=True)
    make_adapter("japanese", "/srv/loras/japanese-a")
    make_adapter("wild_west", "/srv/loras/west-a", offered_in_kiosk=True)

    assert registry.active_lora_styles() == {
        "medieval": "/srv/loras/medieval-a",
        "wild_west": "/srv/loras/west-a",
    }


def test_offering_an_adapter_withdraws_the_other_one_of_its_style():
    first = make_adapter("medieval", "/srv/loras/medieval-a", offered_in_kiosk=True)
    make_adapter("medieval", "/srv/loras/medieval-b", offered_in_kiosk=True)

    first.refresh_from_db()
    assert not first.offered_in_kiosk
    assert registry.active_lora_styles() == {"medieval": "/srv/loras/medieval-b"}


def test_kiosk_styles_hide_styles_whose_adapters_are_all_withdrawn():
    assert registry.kiosk_styles() == list(STYLES)

    make_adapter("medieval", "/srv/loras/medieval-a")  # registered, not evaluated yet
    make_adapter("japanese", "/srv/loras/japanese-a", offered_in_kiosk=True)
    make_adapter("none", "/srv/loras/olpe-look")  # the plain style is never hidden

    assert registry.kiosk_styles() == [key for key in STYLES if key != "medieval"]


# ------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------


def test_a_source_must_mean_the_same_in_every_process():
    for source in ("models/olpe/v1", "./v1", "../models"):
        with pytest.raises(ValidationError) as failure:
            DiffusionModel(name="relative", source=source).full_clean()
        assert "source" in failure.value.message_dict
    DiffusionModel(name="hub", source="GP-Alternativweltgeschichten/OlpeAI").full_clean()
    StyleAdapter(style="medieval", source="/srv/loras/medieval.safetensors").full_clean()


def test_the_kind_must_match_the_unet_of_a_model_present_here(tmp_path):
    directory = tmp_path / "text2image"
    call_command("build_tiny_model", str(directory), "--unet-channels", "4", stdout=io.StringIO())

    with pytest.raises(ValidationError) as failure:
        DiffusionModel(name="tiny", source=str(directory), kind="inpaint9").full_clean()

    assert "4-channel UNet" in failure.value.message_dict["kind"][0]
    DiffusionModel(name="tiny", source=str(directory), kind="text2image4").full_clean()


# ------------------------------------------------------------------------------
# Admin, as a curator
# ------------------------------------------------------------------------------


@pytest.fixture
def curator_client(client, settings):
    settings.LANGUAGE_CODE = "en"
    user = get_user_model().objects.create_user("kurator", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Curators"))
    client.force_login(user)
    return client


def run_action(client, model_name, action, objects):
    url = reverse(f"admin:training_{model_name}_changelist")
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects]}, follow=True
    )


def test_a_curator_makes_a_model_active_and_the_list_says_what_visitors_get(
    curator_client, settings
):
    settings.OLPE_MODEL = "GP-Alternativweltgeschichten/OlpeAI"
    first, second = make_model("v1", "/srv/models/v1"), make_model("v2", "/srv/models/v2")
    page = curator_client.get(reverse("admin:training_diffusionmodel_changelist"))
    assert (
        "visitors get the configured model GP-Alternativweltgeschichten/OlpeAI"
        in page.content.decode()
    )

    response = run_action(curator_client, "diffusionmodel", "make_active", [second])

    text = response.content.decode()
    assert "Visitors now get “v2”" in text
    assert "This computer has no copy of /srv/models/v2" in text
    assert "Visitors get <strong>v2</strong>" in text
    assert registry.active_model_source() == "/srv/models/v2"

    response = run_action(curator_client, "diffusionmodel", "make_active", [first, second])
    assert "Select exactly one model" in response.content.decode()
    assert registry.active_model_source() == "/srv/models/v2"

    run_action(curator_client, "diffusionmodel", "use_configured_model", [second])
    assert registry.active_model_source() is None


def test_a_curator_offers_and_withdraws_styles(curator_client):
    first = make_adapter("medieval", "/srv/loras/medieval-a")
    second = make_adapter("medieval", "/srv/loras/medieval-b")
    japanese = make_adapter("japanese", "/srv/loras/japanese-a")

    response = run_action(curator_client, "styleadapter", "offer_in_kiosk", [first, second])
    assert "Only one adapter per style" in response.content.decode()
    assert registry.active_lora_styles() == {}

    run_action(curator_client, "styleadapter", "offer_in_kiosk", [second, japanese])
    assert registry.active_lora_styles() == {
        "medieval": "/srv/loras/medieval-b",
        "japanese": "/srv/loras/japanese-a",
    }

    run_action(curator_client, "styleadapter", "withdraw_from_kiosk", [japanese])
    assert registry.active_lora_styles() == {"medieval": "/srv/loras/medieval-b"}
    assert "japanese" not in registry.kiosk_styles()


def test_the_evaluation_grid_is_shown_to_staff_only(curator_client, client):
    model = make_model()
    model.evaluation_grid.save("evaluation_grid.png", ContentFile(png_bytes()))
    url = reverse("admin:training_diffusionmodel_picture", args=[model.pk, "grid"])

    page = curator_client.get(reverse("admin:training_diffusionmodel_change", args=[model.pk]))
    assert url in page.content.decode()
    response = curator_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"

    curator_client.logout()
    assert client.get(url).status_code == 302  # to the login page


# ------------------------------------------------------------------------------
# The diffusers engine follows the registry without a restart
# ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry-models")
    models = {}
    for seed in (1, 2):
        call_command(
            "build_tiny_model", str(root / f"seed{seed}"), "--seed", str(seed), stdout=io.StringIO()
        )
        models[seed] = root / f"seed{seed}"
    return models


@pytest.fixture
def tiny_lora(tiny_models, tmp_path):
    """A LoRA with random non-zero weights, saved as train_model saves one."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(tiny_models[1], subfolder="unet")
    torch.manual_seed(3)
    unet.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=4,
            init_lora_weights=False,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    StableDiffusionInpaintPipeline.save_lora_weights(
        tmp_path / "lora",
        unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
    )
    return tmp_path / "lora"


@pytest.fixture
def engine(settings, tiny_models, reset_engines):
    from inpainting_core.engines.diffusion import DiffusersEngine

    settings.OLPE_MODEL_REGISTRY = True
    settings.OLPE_MODEL = str(tiny_models[1])
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = 64
    settings.OLPE_LORA_STYLES = {}
    return DiffusersEngine()


def paint(engine, style="none"):
    import numpy as np

    from inpainting_core.engines.base import EngineRequest

    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    request = EngineRequest(
        image=Image.new("RGB", (64, 64), (90, 140, 60)),
        mask=mask,
        prompt="a lake",
        style=style,
        steps=2,
        seed=5,
    )
    return np.asarray(engine.inpaint(request).image, np.int16)


def test_the_engine_switches_to_the_model_a_curator_activates_without_a_restart(
    engine, tiny_models
):
    import numpy as np

    configured = paint(engine)
    assert engine._loaded_model == str(tiny_models[1])

    make_model("seed 2", str(tiny_models[2]), active=True)
    switched = paint(engine)

    assert engine._loaded_model == str(tiny_models[2])
    assert not np.array_equal(switched, configured)

    DiffusionModel.objects.update(active=False)
    registry.bump_version()
    assert np.array_equal(paint(engine), configured)


def test_the_engine_takes_up_an_offered_style_adapter_on_the_next_job(engine, tiny_lora):
    import numpy as np

    plain = paint(engine, "medieval")
    adapter = make_adapter("medieval", str(tiny_lora), offered_in_kiosk=True)

    styled = paint(engine, "medieval")
    assert not np.array_equal(styled, plain)
    assert engine.load().get_active_adapters() == ["medieval"]

    adapter.offered_in_kiosk = False
    adapter.save()
    assert np.array_equal(paint(engine, "medieval"), plain)


# ------------------------------------------------------------------------------
# Model families in the registry
# ------------------------------------------------------------------------------


def test_the_admin_shows_each_model_family_and_whether_a_lora_fits_the_visitors_model(
    curator_client, settings, tiny_models, tiny_lora, tmp_path
):
    sdxl = tmp_path / "sdxl"
    call_command("build_tiny_model", str(sdxl), "--family", "sdxl", stdout=io.StringIO())
    make_model("tiny SD 2", str(tiny_models[1]))
    make_model("tiny SDXL", str(sdxl))
    make_model("elsewhere", "/srv/models/elsewhere")
    settings.OLPE_MODEL = str(tiny_models[1])
    make_adapter("medieval", str(tiny_lora))

    models = curator_client.get(reverse("admin:training_diffusionmodel_changelist"))
    text = models.content.decode()
    assert "Stable Diffusion 2.x" in text and "Stable Diffusion XL" in text
    assert "unknown (not on this computer)" in text

    # The tiny models' text features are 32 (SD 2 layout) and 64 (SDXL) wide.
    adapters = curator_client.get(reverse("admin:training_styleadapter_changelist"))
    assert "a model with 32-wide text features" in adapters.content.decode()
    assert "does not fit" not in adapters.content.decode()

    DiffusionModel.objects.filter(name="tiny SDXL").update(active=True)
    adapters = curator_client.get(reverse("admin:training_styleadapter_changelist"))
    assert "does not fit the visitors&#x27; model (Stable Diffusion XL)" in (
        adapters.content.decode()
    )
