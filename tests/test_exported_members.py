from __future__ import annotations

import kommunicate_async


def test_all_is_the_sorted_public_namespace() -> None:
    public = {
        name
        for name, value in vars(kommunicate_async).items()
        if not name.startswith("_") and not isinstance(value, type(kommunicate_async))
    }
    assert kommunicate_async.__all__ == sorted(kommunicate_async.__all__)
    assert set(kommunicate_async.__all__) == public


def test_public_classes_report_the_package_as_their_module() -> None:
    assert repr(kommunicate_async.KommunicateSession).endswith(
        "'kommunicate_async.KommunicateSession'>"
    )
    assert kommunicate_async.NotFoundError.__module__ == "kommunicate_async"


def test_the_package_root_never_imports_the_testing_server() -> None:
    import subprocess
    import sys

    code = "import kommunicate_async, sys; print('kommunicate_async.testing' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_every_exported_struct_can_build_its_decoder() -> None:
    import msgspec

    for name in kommunicate_async.__all__:
        obj = getattr(kommunicate_async, name)
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            msgspec.json.Decoder(obj)  # resolves every field annotation
