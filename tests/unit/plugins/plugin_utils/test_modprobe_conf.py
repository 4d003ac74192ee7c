"""The modprobe role's line renderer/validator (plugins/plugin_utils/modprobe_conf.py).

Pure functions over data: no host involved. The rendered file is also checked for real by
`modprobe --showconfig` in the Molecule scenario molecule/base.
"""


import pytest
from ansible_collections.autoglm.provision.plugins.plugin_utils import modprobe_conf

render = modprobe_conf.modprobe_conf_lines
Error = modprobe_conf.ModprobeConfError


def test_default_data_renders_nouveau_off():
    assert render({"nouveau": {"modeset": 0}}, ["nouveau"]) == [
        "blacklist nouveau",
        "options nouveau modeset=0",
    ]


def test_values_bool_list_and_quoted_string():
    lines = render({"nvidia": {"NVreg_EnableGpuFirmware": True, "arr": [1, 2], "s": "a b"}}, [])
    assert lines == ['options nvidia NVreg_EnableGpuFirmware=1 arr=1,2 s="a b"']


def test_guide_bare_parameter_line_rejected_with_hint():
    with pytest.raises(Error) as err:
        render({}, [], ["enable_unsafe_pci_dma=1"])
    msg = str(err.value)
    assert "not modprobe syntax" in msg and "options <module> enable_unsafe_pci_dma=1" in msg


def test_guide_bare_parameter_as_structured_data_rejected():
    with pytest.raises(Error) as err:
        render({"enable_unsafe_pci_dma": 1}, [])
    assert "expected a non-empty mapping" in str(err.value)
    assert "enable_unsafe_pci_dma=1" in str(err.value)


@pytest.mark.parametrize(
    "options, blacklist, extra",
    [
        ({"bad name": {"x": 1}}, [], []),
        ({"nvidia": {"1bad": 1}}, [], []),
        ({"nvidia": {"x": 'a"b'}}, [], []),
        ({"nvidia": {"x": "a\nb"}}, [], []),
        ({"nvidia": {"x": {"nested": 1}}}, [], []),
        ({}, ["nou veau"], []),
        ({}, "nouveau", []),
        ({}, [], ["options nvidia"]),
        ({}, [], ["options enable_unsafe_pci_dma=1"]),
        ({}, [], ["blacklist a b"]),
        ({}, [], ["install nvidia"]),
        ({}, [], ["alias pci:v000010DEd* "]),
        ({}, [], ["options nvidia 9x=1"]),
        ({}, [], ["frobnicate nvidia"]),
    ],
)
def test_invalid_entries_rejected(options, blacklist, extra):
    with pytest.raises(Error):
        render(options, blacklist, extra)


def test_valid_extra_lines_pass_through():
    extra = [
        "# comment",
        "alias pci:v000010DEd*sv*sd*bc03sc*i* nvidia",
        "softdep nvidia pre: ecdh_generic post: nvidia-uvm",
        "install nvidia-peermem /bin/false",
        "options nvidia-drm modeset=1 fbdev",
    ]
    assert render({}, [], extra) == extra


def test_error_is_ansible_filter_error_under_ansible():
    from ansible.errors import AnsibleFilterError

    assert issubclass(Error, AnsibleFilterError)
