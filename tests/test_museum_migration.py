"""An installation made before the museum app migrates in place, with its data.

World, SiteSettings, OpenAIUsage, BlockedTerm and BlockedAttempt moved from
gallery to museum (museum/migrations/0001_initial.py) keeping their tables; a
job's world and a creation's world now point at museum.World, and the content
types moved so the Curators group keeps its permissions.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("gallery", "0006_world_map_is_paintable"), ("inpainting", "0003_job_world")]
MOVED = ("world", "sitesettings", "openaiusage", "blockedterm", "blockedattempt")
CURATORS_CODENAMES = ("change_world", "change_sitesettings", "add_blockedterm",
                      "view_blockedattempt", "view_openaiusage")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_keeps_its_data():
    try:
        executor = migrate([("museum", None)])
        old = executor.loader.project_state(BEFORE).apps
        ContentType = old.get_model("contenttypes", "ContentType")
        assert set(
            ContentType.objects.filter(app_label="gallery", model__in=MOVED).values_list(
                "model", flat=True
            )
        ) == set(MOVED)
        # The Curators group with its rights on the moved models, as gallery's
        # migration 0003 gave them (made here too: other tests may have flushed it).
        Permission = old.get_model("auth", "Permission")
        curators, _created = old.get_model("auth", "Group").objects.get_or_create(name="Curators")
        for codename in CURATORS_CODENAMES:
            content_type = ContentType.objects.get(app_label="gallery", model=codename.split("_")[1])
            permission, _created = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": codename}
            )
            curators.permissions.add(permission)

        World = old.get_model("gallery", "World")
        world = World.objects.create(name="Olpe 1830", slug="olpe-1830", image="worlds/olpe.png")
        settings_row = old.get_model("gallery", "SiteSettings").objects.create(
            pk=1, visitor_engine="classic", openai_daily_budget=7
        )
        old.get_model("gallery", "BlockedTerm").objects.create(
            term="zzzblocked", category="other", whole_word_only=True
        )
        old.get_model("gallery", "OpenAIUsage").objects.create(day="2026-12-01", images=3)
        job = old.get_model("inpainting", "InpaintJob").objects.create(
            engine="classic", prompt_original="ein See", input_image="jobs/in.png",
            mask_image="jobs/mask.png", world=world,
        )
        creation = old.get_model("gallery", "Creation").objects.create(
            prompt_original="ein See", engine="classic", before_image="b.png",
            after_image="a.png", world=world, job=job,
        )

        migrate(latest())
    finally:
        migrate(latest())  # leave the database as every other test expects it

    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType as CurrentContentType

    from gallery.models import Creation
    from inpainting.models import InpaintJob
    from museum.models import BlockedTerm, OpenAIUsage, SiteSettings, World

    moved_world = World.objects.get(slug="olpe-1830")
    assert moved_world.pk == world.pk and moved_world.name == "Olpe 1830"
    assert SiteSettings.objects.get(pk=settings_row.pk).openai_daily_budget == 7
    assert BlockedTerm.objects.get(term="zzzblocked").whole_word_only
    assert OpenAIUsage.objects.get(day="2026-12-01").images == 3
    assert InpaintJob.objects.get(pk=job.pk).world == moved_world
    assert Creation.objects.get(pk=creation.pk).world == moved_world
    assert list(moved_world.jobs.all()) == [InpaintJob.objects.get(pk=job.pk)]

    assert not CurrentContentType.objects.filter(app_label="gallery", model__in=MOVED).exists()
    assert CurrentContentType.objects.get_for_model(World).app_label == "museum"
    curators = Group.objects.get(name="Curators")
    for codename in CURATORS_CODENAMES:
        permission = Permission.objects.get(content_type__app_label="museum", codename=codename)
        assert curators.permissions.filter(pk=permission.pk).exists()
