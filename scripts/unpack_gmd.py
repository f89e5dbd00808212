from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from beatvae.unpack import safe_unzip

    members = safe_unzip(snakemake.input[0], snakemake.output[0])
    print(f"unpacked {len(members)} entries into {snakemake.output[0]}")
