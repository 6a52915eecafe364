#!/usr/bin/env bash
echo "integration: none yet"
