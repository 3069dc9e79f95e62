#!/usr/bin/env bash
# espeak-ng, the offline speech synthesizer of the voice tests and the demo (the agent's
# offline voice and the test user's speech).
exec "$(dirname "$0")/apt-install.sh" espeak-ng command -v espeak-ng
