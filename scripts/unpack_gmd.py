from beatvae.logs import redirect_to_log
from beatvae.unpack import safe_unzip

with redirect_to_log(snakemake.log[0]):
    members = safe_unzip(snakemake.input[0], snakemake.output[0])
    print(f"unpacked {len(members)} entries into {snakemake.output[0]}")
