# Demos of the renderer beyond the tables: camera pose from depth and silhouette (paper Fig. 6, rule
# camera_demo) and colour rendering from an implicit colour field (paper Fig. 8, rule color_demo). Each
# uses a shape of its category's prior; settings in config section `demos`.
DEMOS = config.get("demos", {})
DEMO_DIR = RESULTS / "demos"


rule camera_demo:
    input:
        config_check("demos"),
        prior=prior_files(DEMOS["camera"]["category"]),
    output:
        csv=report(
            DEMO_DIR / "camera_pose.csv",
            category="Demos",
            subcategory="Camera pose (Fig. 6)",
            caption="../report/camera_demo.rst",
        ),
        figure=report(
            DEMO_DIR / "camera_pose.png",
            category="Demos",
            subcategory="Camera pose (Fig. 6)",
            caption="../report/camera_demo.rst",
        ),
    log:
        RESULTS / "logs" / "demos" / "camera.log",
    benchmark:
        RESULTS / "benchmarks" / "demos" / "camera.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=8000, runtime=20),
    params:
        demo=json.dumps(DEMOS["camera"], sort_keys=True),
        renderer=config_json("renderer"),
        prior_dir=input_folder("prior"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/demo_camera.py"


rule color_demo:
    input:
        config_check("demos"),
        prior=prior_files(DEMOS["color"]["category"]),
        split=data_split_file(DEMOS["color"]["category"], "train"),
    output:
        weights=DEMO_DIR / "color_field" / "color_field.pth",
        specs=DEMO_DIR / "color_field" / "color_specs.json",
        csv=report(
            DEMO_DIR / "color_renders.csv",
            category="Demos",
            subcategory="Colour (Fig. 8)",
            caption="../report/color_demo.rst",
        ),
        figure=report(
            DEMO_DIR / "color_renders.png",
            category="Demos",
            subcategory="Colour (Fig. 8)",
            caption="../report/color_demo.rst",
        ),
    log:
        RESULTS / "logs" / "demos" / "color.log",
    benchmark:
        RESULTS / "benchmarks" / "demos" / "color.tsv"
    conda:
        DIST_ENV
    threads: config["threads"]
    resources:
        **gpu_job(mem_mb=16000, runtime=60),
    params:
        demo=json.dumps(DEMOS["color"], sort_keys=True),
        renderer=config_json("renderer"),
        prior_dir=input_folder("prior"),
        data=_data_settings("source", "deepsdf_dir", "dataset"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/demo_color.py"


rule demos:
    input:
        rules.camera_demo.output,
        rules.color_demo.output,
