from nnunet_doctor.cli import main

main()
