# Sourced by scripts/run_experiment.sh and scripts/eval_checkpoints.sh: the command prefix that runs
# a program as N data-parallel ranks.
# mpi_launch N FLAG PROGRAM: sets the array `launch`: empty for N = 1; else the words of
# $MEMLENS_LAUNCH when set (Slurm scripts: srun), or mpirun -np N (with --allow-run-as-root as
# root). No mpirun is one error line from PROGRAM, naming FLAG.
mpi_launch() {
  local n=$1 flag=$2 program=$3
  launch=()
  [ "$n" -gt 1 ] || return 0
  if [ -n "${MEMLENS_LAUNCH:-}" ]; then
    read -ra launch <<< "$MEMLENS_LAUNCH"
    return 0
  fi
  command -v mpirun > /dev/null || { echo "$program: error: $flag $n needs mpirun (make deps installs openmpi-bin)" >&2; exit 1; }
  launch=(mpirun -np "$n")
  [ "$(id -u)" -ne 0 ] || launch+=(--allow-run-as-root)
}
