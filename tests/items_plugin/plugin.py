from flask_babel import lazy_gettext as _l

from core.contributions import MenuItem
from core.hooks import hookimpl

META = {
    "name": "items",
    "title": "Items",
    "version": "1.0",
    "description": "One entity, for the entity framework's tests.",
    "slots": ("item.detail",),
}


@hookimpl
def register_models():
    from tests.items_plugin.models import Item

    return [Item]


@hookimpl
def register_entities():
    from core.entities import Entity, Section
    from tests.items_plugin.models import Item
    from tests.items_plugin.schemas import ItemSchema

    return [
        Entity(
            name="item",
            plural="items",
            model=Item,
            schema=ItemSchema,
            label=_l("Item"),
            label_plural=_l("Items"),
            permission_prefix="items.item",
            title_field="name",
            list_columns=("name", "email", "status", "amount", "due", "updated_at"),
            search_fields=("name", "email", "phone"),
            filter_fields=("status", "owner_id", "department_id", "due", "amount"),
            default_sort="-updated_at",
            sections=(
                Section("main", _l("Item"), ("name", "email", "phone", "status")),
                Section("money", _l("Money"), ("amount", "due", "notes")),
            ),
            slots=("item.detail",),
            match_fields=("email", "phone"),
        )
    ]


@hookimpl
def register_permissions():
    from core.entities import entity_permissions

    return entity_permissions(
        "items.item",
        _l("Items"),
        defaults={"view": {"sales": "own", "readonly": "all"}, "create": {"sales": "all"}, "edit": {"sales": "own"}},
    )


@hookimpl
def register_menu_items():
    return [MenuItem("items", _l("Items"), "items_items.list", order=40, permission="items.item.view")]
