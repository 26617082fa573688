# install.cmake - what `cmake --install` puts where (GNUInstallDirs, so
# --prefix and DESTDIR work as usual):
#   bin/                         livegate, livegate-validator, livegate-bench
#   share/livegate/web/          the pages an installed gateway serves
#                                (found from bin/, see gateway_config.c)
#   share/livegate/              livegate.env.example
#   share/doc/livegate/          README, CHANGELOG, LICENSE, docs/
#   lib/systemd/system/          livegate@.service, livegate-validator.service
# The unit files are written at install time from deploy/systemd/*.in, so
# their ExecStart names the programs where this install put them, whatever
# --prefix says. LIVEGATE_SYSTEMD_UNITDIR and LIVEGATE_ENV_DIR (where the
# units read livegate.env) may be set at configure time.

set(LIVEGATE_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "unit folder, relative to the install prefix unless absolute")
set(LIVEGATE_ENV_DIR "/etc/livegate" CACHE PATH "folder of livegate.env, read by the units")

install(TARGETS livegate livegate-validator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET livegate-bench)
  install(TARGETS livegate-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(lg_web ${CMAKE_CURRENT_SOURCE_DIR}/web)
install(FILES ${lg_web}/index.html ${lg_web}/dashboard.html
        DESTINATION ${CMAKE_INSTALL_DATADIR}/livegate/web)
install(DIRECTORY ${lg_web}/static DESTINATION ${CMAKE_INSTALL_DATADIR}/livegate/web)
# The charting library the pages load; scripts/setup.sh fetches it
# (web/node_modules). Without it the pages work but draw no charts.
install(DIRECTORY ${lg_web}/node_modules/uplot/dist
        DESTINATION ${CMAKE_INSTALL_DATADIR}/livegate/web/node_modules/uplot OPTIONAL)

install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/deploy/livegate.env.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/livegate)
install(FILES README.md CHANGELOG.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# Evaluated at install time (\${...}), so that --prefix counts.
install(CODE "
  set(LG_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(LG_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  set(LG_ENV_DIR \"${LIVEGATE_ENV_DIR}\")
  set(unitdir \"${LIVEGATE_SYSTEMD_UNITDIR}\")
  if(NOT IS_ABSOLUTE \"\${unitdir}\")
    set(unitdir \"\${CMAKE_INSTALL_PREFIX}/\${unitdir}\")
  endif()
  foreach(unit livegate@.service livegate-validator.service)
    configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/deploy/systemd/\${unit}.in\"
                   \"\$ENV{DESTDIR}\${unitdir}/\${unit}\" @ONLY)
    message(STATUS \"Installing: \$ENV{DESTDIR}\${unitdir}/\${unit}\")
  endforeach()
")
